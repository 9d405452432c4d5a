package main

import (
	"errors"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator/starter"
)

// TestParseArgs checks every command's flag parsing as a pure function:
// the options it returns, and the usage errors (exit 2) it reports.
func TestParseArgs(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	tests := []struct {
		name    string
		parse   func() (any, error)
		want    any
		wantErr string
	}{
		{"vet", func() (any, error) { return parseVetArgs([]string{"a.cue", "b.cue"}) },
			vetOptions{policies: []string{"a.cue", "b.cue"}}, ""},
		{"vet today", func() (any, error) { return parseVetArgs([]string{"--today", "2027-01-31", "a.cue"}) },
			vetOptions{policies: []string{"a.cue"}, today: "2027-01-31"}, ""},
		{"vet bad today", func() (any, error) { return parseVetArgs([]string{"--today", "31.01.2027", "a.cue"}) }, nil, `--today must be a date YYYY-MM-DD, not "31.01.2027"`},
		{"vet without policy", func() (any, error) { return parseVetArgs(nil) }, nil, "vet: no policy given"},
		{"vet unknown flag", func() (any, error) { return parseVetArgs([]string{"--fast", "a.cue"}) }, nil, "unknown flag: --fast"},
		{"build defaults", func() (any, error) { return parseBuildArgs([]string{"a.cue"}) },
			buildOptions{policies: []string{"a.cue"}, output: "out", jobs: procs}, ""},
		{"build all flags", func() (any, error) {
			return parseBuildArgs([]string{"-o", "gitops", "--check", "--jobs", "3", "a.cue", "b.cue"})
		},
			buildOptions{policies: []string{"a.cue", "b.cue"}, output: "gitops", check: true, jobs: 3}, ""},
		{"build jobs 0", func() (any, error) { return parseBuildArgs([]string{"--jobs", "0", "a.cue"}) }, nil, "--jobs must be at least 1, not 0"},
		{"build jobs not a number", func() (any, error) { return parseBuildArgs([]string{"--jobs", "many", "a.cue"}) }, nil, `invalid argument "many"`},
		{"catalog defaults", func() (any, error) { return parseCatalogArgs(nil) },
			catalogOptions{distribution: "opendesk", format: "markdown"}, ""},
		{"catalog release patch", func() (any, error) {
			return parseCatalogArgs([]string{"--edition", "ee", "--release", "v1.18.3", "--format", "json"})
		},
			catalogOptions{distribution: "opendesk", edition: "ee", release: "v1.18", format: "json"}, ""},
		{"catalog bad edition", func() (any, error) { return parseCatalogArgs([]string{"--edition", "pro"}) }, nil, `--edition must be one of ce, ee, not "pro"`},
		{"catalog bad release", func() (any, error) { return parseCatalogArgs([]string{"--release", "1.17"}) }, nil, "--release must be an openDesk release"},
		{"catalog stray argument", func() (any, error) { return parseCatalogArgs([]string{"site.cue"}) }, nil, `catalog: unexpected argument "site.cue"`},
		{"init defaults", func() (any, error) { return parseInitArgs(nil) },
			initOptions{starter: starter.StarterOptions{Distribution: "opendesk", Edition: "ce", Release: "v1.17.0",
				Site: "my-site", Namespace: "opendesk"}}, ""},
		{"init bad release", func() (any, error) { return parseInitArgs([]string{"--release", "v2.0.0"}) }, nil, "--release must be a full openDesk release"},
		{"init release line only", func() (any, error) { return parseInitArgs([]string{"--release", "v1.18"}) }, nil, "--release must be a full openDesk release vX.Y.Z"},
		{"init release with suffix", func() (any, error) { return parseInitArgs([]string{"--release", "v1.18.0-rc1"}) }, nil, "--release must be a full openDesk release vX.Y.Z"},
		{"coverage", func() (any, error) {
			return parseCoverageArgs([]string{"site.cue", "--base", "old.cue", "--format", "markdown"})
		},
			coverageOptions{policy: "site.cue", base: "old.cue", format: "markdown"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse()
			if tt.wantErr != "" {
				var usage *usageError
				if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want a usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestHelpIsNotAnError: --help prints the command's usage on stdout and
// exits 0, for every command.
func TestHelpIsNotAnError(t *testing.T) {
	for _, c := range commands {
		code, stdout, stderr := runCLI(t, c.name, "--help")
		if code != 0 || !strings.HasPrefix(stdout, "Usage: odbackup "+c.name) || stderr != "" {
			t.Errorf("%s --help: exit %d, stdout %.40q, stderr %q", c.name, code, stdout, stderr)
		}
	}
}

// TestHelpListsEveryFlag: the Usage line of every command names every flag
// its flag set defines (the Flags section is printed from the flag set; the
// Usage line is written by hand and went stale before).
func TestHelpListsEveryFlag(t *testing.T) {
	flagLine := regexp.MustCompile(`^\s+(?:-([a-z]), )?--([a-z-]+)`)
	for _, c := range commands {
		_, stdout, _ := runCLI(t, c.name, "--help")
		usage, flags, _ := strings.Cut(stdout, "\nFlags:\n")
		synopsis, _, _ := strings.Cut(usage, "\n\n")
		for _, line := range strings.Split(flags, "\n") {
			m := flagLine.FindStringSubmatch(line)
			if m == nil || m[2] == "help" {
				continue
			}
			if !strings.Contains(synopsis, "--"+m[2]) && (m[1] == "" || !strings.Contains(synopsis, "-"+m[1]+" ")) {
				t.Errorf("%s --help: the Usage line %q does not name --%s", c.name, synopsis, m[2])
			}
		}
	}
}

// TestInitExitCodes: a bad value for init is a usage error (exit 2), like
// an unknown flag, whether the flag parser or the schema refuses it.
func TestInitExitCodes(t *testing.T) {
	for _, args := range [][]string{
		{"--edition", "pro"}, {"--release", "v1.17"}, {"--distribution", "opendesk-pro"},
		{"--site", "My_School"}, {"--namespace", "Open Desk"}, {"--domain", "-bad-"}, {"--unknown"}, {"stray"},
	} {
		code, stdout, stderr := runCLI(t, append([]string{"init"}, args...)...)
		if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, "odbackup: ") {
			t.Errorf("init %v: exit %d, stdout %.40q, stderr %q; want exit 2 and one message", args, code, stdout, stderr)
		}
	}
}

// TestVersion: --version is the version command; version takes nothing.
func TestVersion(t *testing.T) {
	code, byFlag, _ := runCLI(t, "--version")
	_, byCommand, _ := runCLI(t, "version")
	if code != 0 || byFlag != byCommand || !strings.HasPrefix(byFlag, "odbackup ") {
		t.Errorf("--version: exit %d, %q; version: %q", code, byFlag, byCommand)
	}
	if code, _, stderr := runCLI(t, "version", "extra"); code != exitUsage || !strings.Contains(stderr, `unexpected argument "extra"`) {
		t.Errorf("version extra: exit %d, %q", code, stderr)
	}
}
