package main

import (
	"errors"
	"reflect"
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
				Site: "my-site", Domain: "opendesk.example.org", Namespace: "opendesk"}}, ""},
		{"init bad release", func() (any, error) { return parseInitArgs([]string{"--release", "v2.0"}) }, nil, "--release must be an openDesk release"},
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
