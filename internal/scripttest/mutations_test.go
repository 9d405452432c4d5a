package scripttest

// The measurement of issue 16 item 22: hand-made mistakes in the generated
// scripts' failure handling must each make this layer fail, with nothing
// else (no golden file) to catch them. ODBACKUP_SCRIPTTEST_MUTATION=NAME
// applies one mistake to every script the tests read;
// TestMutationsAreCaught (run with ODBACKUP_SCRIPTTEST_MEASURE=1) runs the
// whole layer once per mistake and reports which tests caught it.

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// mutations are the mistakes, each a rewrite of a script.
var mutations = map[string]func(string) string{
	// set -e dropped: a failing command no longer stops the script.
	"drop-e": func(s string) string { return strings.ReplaceAll(s, "set -eu\n", "set -u\n") },
	// restic backup's exit code ignored.
	"ignore-backup-exit": func(s string) string { return strings.ReplaceAll(s, `return "$rc"`, "return 0") },
	// the restore's consumer (pg_restore, mariadb, kubectl) exit code ignored.
	"ignore-restore-exit": func(s string) string {
		return strings.ReplaceAll(s, `"$@" <"$fifo" || consumed=$?`, `"$@" <"$fifo" || :`)
	},
	// restic dump's exit code ignored in a restore.
	"ignore-dump-exit": func(s string) string {
		return strings.ReplaceAll(s, `wait "$dumper" || dumped=$?`, `wait "$dumper" || :`)
	},
	// a staged dump's size never compared with the snapshot's record.
	"ignore-stage-size": func(s string) string {
		return strings.ReplaceAll(s, `if [ "$staged" -ne "$size" ]; then`, `if false; then`)
	},
	// restic dump's exit code ignored when a restore stages the dump.
	"ignore-stage-dump-exit": func(s string) string {
		return strings.ReplaceAll(s, `>"$out" || dumped=$?`, `>"$out" || :`)
	},
	// pg_restore --jobs' exit code ignored.
	"ignore-parallel-restore-exit": func(s string) string {
		return strings.ReplaceAll(s, `"$stage" || restored=$?`, `"$stage" || :`)
	},
	// a CSI snapshot never waited for: the job succeeds without a usable snapshot.
	"skip-snapshot-wait": func(s string) string {
		return strings.ReplaceAll(s, `if ! kubectl --namespace="$ODBACKUP_NAMESPACE" wait`, `if ! : kubectl --namespace="$ODBACKUP_NAMESPACE" wait`)
	},
	// a CSI prune selector that matches every store's snapshots.
	"csi-prune-all-stores": func(s string) string {
		return regexp.MustCompile(` --selector=odbackup\.io/store=[^ ]+ --sort-by`).ReplaceAllString(s, " --sort-by")
	},
	// a wrong retention flag: monthly snapshots kept as yearly ones.
	"wrong-retention-flag": func(s string) string { return strings.ReplaceAll(s, "--keep-monthly=", "--keep-yearly=") },
	// a prune selector that matches every store's snapshots.
	"prune-all-stores": func(s string) string { return forgetLines(s, regexp.MustCompile(` --tag=('?)store=[^ ]+`)) },
	// a prune selector that matches every site's snapshots.
	"prune-all-hosts": func(s string) string { return forgetLines(s, regexp.MustCompile(` --host=[^ ]+`)) },
}

// forgetLines removes re's matches from the restic forget lines of s.
func forgetLines(s string, re *regexp.Regexp) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "restic forget") {
			lines[i] = re.ReplaceAllString(l, "")
		}
	}
	return strings.Join(lines, "\n")
}

const mutationEnv = "ODBACKUP_SCRIPTTEST_MUTATION"

// mutated counts the scripts the mutation changed in this test binary.
var mutated atomic.Int64

// mutateSteps applies the mutation ODBACKUP_SCRIPTTEST_MUTATION names, if
// any, to the scripts of steps.
func mutateSteps(t testing.TB, steps []*Step) {
	t.Helper()
	name := os.Getenv(mutationEnv)
	if name == "" {
		return
	}
	m, ok := mutations[name]
	if !ok {
		t.Fatalf("%s=%s: no such mutation", mutationEnv, name)
	}
	for _, s := range steps {
		n := len(s.Command)
		if n < 3 || s.Command[n-2] != "-c" {
			continue
		}
		if after := m(s.Command[n-1]); after != s.Command[n-1] {
			s.Command = append(slices.Clone(s.Command[:n-1]), after)
			mutated.Add(1)
		}
	}
}

// TestMutationsAreCaught runs this package's tests once per mutation and
// fails for every mutation no test catches. Not in the default run: set
// ODBACKUP_SCRIPTTEST_MEASURE=1.
func TestMutationsAreCaught(t *testing.T) {
	if os.Getenv("ODBACKUP_SCRIPTTEST_MEASURE") == "" {
		t.Skip("set ODBACKUP_SCRIPTTEST_MEASURE=1 to measure the layer with hand-made mistakes")
	}
	names := make([]string, 0, len(mutations))
	for n := range mutations {
		names = append(names, n)
	}
	slices.Sort(names)
	failing := regexp.MustCompile(`(?m)^--- FAIL: (\S+)`)
	for _, name := range names {
		cmd := exec.Command(os.Args[0], "-test.run", ".", "-test.count=1")
		cmd.Env = append(os.Environ(), mutationEnv+"="+name, "ODBACKUP_SCRIPTTEST_MEASURE=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var caughtBy []string
		for _, m := range failing.FindAllStringSubmatch(out.String(), -1) {
			caughtBy = append(caughtBy, m[1])
		}
		switch {
		case strings.Contains(out.String(), "changed no script"):
			t.Errorf("%-22s changed no script: the mutation is out of date", name)
		case err == nil:
			t.Errorf("%-22s NOT CAUGHT: every test passed", name)
		case len(caughtBy) == 0:
			t.Errorf("%-22s the run failed without a failing test:\n%s", name, out.String())
		default:
			t.Logf("%-22s caught by %s", name, strings.Join(caughtBy, ", "))
		}
	}
}
