package generator_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// followBlock is a runbook's wait-then-follow of a Job's log.
var followBlock = regexp.MustCompile(`(?m)^until case \$\(kubectl [^\n]*get pods --selector=odbackup\.io/job=(\S+) [^\n]*\n[^\n]*\ndone\nkubectl [^\n]*logs --follow job/(\S+)$`)

// TestRunbooksWaitBeforeFollowingLogs (issue 16 item 15): kubectl logs
// --follow fails while a restore pod's init containers run, so every
// runbook command that follows a Job's log first waits until the Job's
// pod runs or has ended. The wait runs here against a kubectl that
// reports the pod Pending twice, then Running: logs comes only after.
func TestRunbooksWaitBeforeFollowingLogs(t *testing.T) {
	var sample string
	for site, tree := range examples(t) {
		for _, p := range tree.Paths() {
			if !strings.HasPrefix(p, "runbooks/") {
				continue
			}
			rb := string(tree[p])
			follows := strings.Count(rb, "logs --follow")
			blocks := followBlock.FindAllStringSubmatch(rb, -1)
			if len(blocks) != follows {
				t.Errorf("%s/%s: %d of %d logs --follow wait for the pod first", site, p, len(blocks), follows)
			}
			for _, b := range blocks {
				if b[1] != b[2] {
					t.Errorf("%s/%s: waits for the pod of %s, then follows %s", site, p, b[1], b[2])
				}
				sample = b[0]
			}
		}
	}
	if sample == "" {
		t.Fatal("no runbook follows a Job's log")
	}
	dir := t.TempDir()
	stub(t, dir, "kubectl", `n=$(cat "$0.count" 2>/dev/null || echo 0); echo $((n + 1)) >"$0.count"
case "$*" in
*"get pods"*) if [ "$n" -lt 2 ]; then echo Pending; else echo Running; fi ;;
*"logs --follow"*) echo "logs after $n calls" ;;
esac
`)
	stub(t, dir, "sleep", "")
	for _, sh := range shells(t) {
		if err := os.Remove(filepath.Join(dir, "kubectl.count")); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		cmd := exec.Command(sh[0], append(sh[1:], "-c", sample)...)
		cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Count(string(out), "waiting for the pod") != 2 || !strings.Contains(string(out), "logs after 3 calls") {
			t.Errorf("%v: the wait did not hold logs until the pod ran (%v):\n%s", sh, err, out)
		}
	}
}
