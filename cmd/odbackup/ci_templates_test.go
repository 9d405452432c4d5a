package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// gitlabScript is the script of the GitLab template's odbackup job, as the
// runner joins it: one shell, one line after the other.
func gitlabScript(t *testing.T) (string, map[string]string) {
	t.Helper()
	data, err := os.ReadFile("../../examples/ci/gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var ci struct {
		Variables map[string]string `json:"variables"`
		Odbackup  struct {
			Script []string `json:"script"`
		} `json:"odbackup"`
	}
	if err := yaml.Unmarshal(data, &ci); err != nil {
		t.Fatal(err)
	}
	return strings.Join(ci.Odbackup.Script, "\n"), ci.Variables
}

// TestGitLabTemplate (issue 16 item 17) runs the GitLab template's script
// under bash -eo pipefail, as the runner does, against stubs of odbackup,
// git, curl and jq that record their calls: a comment that cannot be
// posted never fails a passing gate; the comment names the target branch;
// a stale out/ still gets the comment posted, and the job fails after.
func TestGitLabTemplate(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, _ := gitlabScript(t)
	cases := []struct {
		name              string
		check, gate, curl string // exit codes of the stubs
		wantExit          int
	}{
		{"passing gate, failing comment", "0", "0", "22", 0},
		{"passing gate, comment posted", "0", "0", "0", 0},
		{"stale out/, comment posted first", "1", "0", "0", 1},
		{"failing gate", "0", "1", "0", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			stub := func(name, body string) {
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\necho \""+name+" $*\" >>"+dir+"/calls\n"+body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			stub("odbackup", `case $1 in
build) exit `+c.check+` ;;
coverage) printf 'Compared with \140%s\140.\n' "$(for a; do case $prev in --base-name) echo "$a" ;; esac; prev=$a; done)"; exit `+c.gate+` ;;
esac`)
			stub("git", `case $1 in show) echo 'site: "x"' ;; esac`)
			stub("curl", `case "$*" in *--request*) cat >/dev/null 2>&1; exit `+c.curl+` ;; esac; echo '[]'`)
			// The note lookup (jq -r) finds none: the comment is new.
			stub("jq", `cat >/dev/null; case $1 in -r) echo ;; *) echo '{}' ;; esac`)
			cmd := exec.Command(bash, "-eo", "pipefail", "-c", script)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "ODBACKUP_POLICY=site.cue", "ODBACKUP_OUT=out",
				"CI_MERGE_REQUEST_IID=7", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main", "CI_API_V4_URL=https://gitlab.example/api/v4",
				"CI_PROJECT_ID=1", "ODBACKUP_COMMENT_TOKEN=token"}
			out, _ := cmd.CombinedOutput()
			exit := cmd.ProcessState.ExitCode()
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			report, _ := os.ReadFile(filepath.Join(dir, "coverage.md"))
			if exit != c.wantExit {
				t.Errorf("exit %d, want %d\n%s\ncalls:\n%s", exit, c.wantExit, out, calls)
			}
			if !strings.Contains(string(calls), "curl --fail --silent --output /dev/null --request POST") {
				t.Errorf("no comment was posted:\n%s", calls)
			}
			if !strings.Contains(string(report), "Compared with `main`.") {
				t.Errorf("the comment does not name the target branch:\n%s", report)
			}
			if c.check != "0" && !strings.Contains(string(report), "out/ is stale") {
				t.Errorf("the comment does not say out/ is stale:\n%s", report)
			}
			if c.curl != "0" && !strings.Contains(string(out), "warning: the coverage comment could not be posted") {
				t.Errorf("a failed post is not reported:\n%s", out)
			}
		})
	}
}

// TestCITemplatesPinAnExistingVersion (issue 16 item 17): the version the
// templates install is a release tag or a commit of this repository.
func TestCITemplatesPinAnExistingVersion(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	_, vars := gitlabScript(t)
	gh, err := os.ReadFile("../../examples/ci/github/odbackup.yml")
	if err != nil {
		t.Fatal(err)
	}
	ghVersion := regexp.MustCompile(`(?m)^  ODBACKUP_VERSION: (\S+)$`).FindStringSubmatch(string(gh))
	if ghVersion == nil || ghVersion[1] != vars["ODBACKUP_VERSION"] {
		t.Fatalf("the templates pin different versions: GitHub %v, GitLab %q", ghVersion, vars["ODBACKUP_VERSION"])
	}
	v := vars["ODBACKUP_VERSION"]
	if !regexp.MustCompile(`^(v\d+\.\d+\.\d+|[0-9a-f]{40})$`).MatchString(v) {
		t.Fatalf("ODBACKUP_VERSION %q is neither a release tag vX.Y.Z nor a full commit hash", v)
	}
	ref := v + "^{commit}"
	if out, err := exec.Command("git", "rev-parse", "--verify", "--quiet", ref).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "" && strings.Contains(string(out), "not a git repository") {
			t.Skip("not in a git checkout")
		}
		t.Errorf("ODBACKUP_VERSION %s is not a tag or commit of this repository: go install would fail", v)
	}
}
