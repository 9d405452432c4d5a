package scripttest

// The off-site copy of a volume (issue 14): whatever fails, the step fails
// and no clone (nor copy pod) is left behind.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/internal/scripttest/stubs"
)

const offsiteStore = "xwiki/pvc/xwiki-data-xwiki-0"

// offsiteStep is the off-site copy step of a small site whose XWiki volume
// (required) goes off-site by default, its target being defined.
func offsiteStep(t *testing.T) *Step {
	t.Helper()
	var found []*Step
	for _, s := range testSite(t, "site-a", []string{"xwiki"}, "") {
		if s.Kind == "CronJob" && s.Offsite() && s.StoreID() == offsiteStore {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one off-site step of %s, found %d", offsiteStore, len(found))
	}
	return found[0]
}

// sourceClaim is the live claim the step reads class and size from.
const sourceClaim = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: xwiki-data-xwiki-0
spec:
  storageClassName: fast
  resources:
    requests:
      storage: 5Gi
`

// offsiteSandbox has the live claim, yesterday's ready snapshot and
// today's one (ready or not), and a clone folder with a file in it.
func offsiteSandbox(t *testing.T, step *Step, todayReady bool) *Sandbox {
	t.Helper()
	sb := NewSandbox(t)
	sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
	sb.PutObject(sourceClaim)
	sb.PutObject(volumeSnapshot(t, step, "xwiki-data-xwiki-0-yesterday", 1, true))
	sb.PutObject(volumeSnapshot(t, step, "xwiki-data-xwiki-0-today", 2, todayReady))
	clone := filepath.Join(sb.State, stubs.CloneDir)
	if err := os.MkdirAll(filepath.Join(clone, "attachments"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clone, "attachments", "a.txt"), []byte("page attachment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return sb
}

// offsiteObjects puts what any off-site step reads into the sandbox: its
// live claim and a ready VolumeSnapshot with the store's label.
func offsiteObjects(t *testing.T, sb *Sandbox, step *Step) {
	t.Helper()
	script, _ := step.Script()
	claim := regexpFind(t, `(?m)^source=(\S+)$`, script)
	label := regexpFind(t, `(?m)^selector=odbackup\.io/store=(\S+)$`, script)
	sb.PutObject(strings.ReplaceAll(sourceClaim, "xwiki-data-xwiki-0", claim))
	sb.PutObject(fmt.Sprintf(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: %s-today
  creationTimestamp: "2026-01-02T02:00:00Z"
  labels:
    odbackup.io/store: %s
status:
  readyToUse: true
`, claim, label))
}

// leftovers are the clones and copy pods still in the namespace.
func leftovers(sb *Sandbox) []string {
	var out []string
	for _, kind := range []string{"persistentvolumeclaim", "pod"} {
		for _, o := range sb.Objects(kind) {
			name := fmt.Sprint(o["metadata"].(map[string]any)["name"])
			if strings.HasPrefix(name, "odbackup-") {
				out = append(out, kind+"/"+name)
			}
		}
	}
	return out
}

// TestOffsiteCopy: the step clones today's snapshot (not yesterday's),
// copies the clone's files into restic tagged for the store and the site,
// and deletes the clone and the copy pod.
func TestOffsiteCopy(t *testing.T) {
	t.Parallel()
	step := offsiteStep(t)
	sb := offsiteSandbox(t, step, true)
	r := sb.MustRun(step, Opts{})
	if l := leftovers(sb); len(l) != 0 {
		t.Errorf("left behind after a successful copy: %v\n%s", l, r)
	}
	snaps := snapshotsOf(sb, offsiteStore)
	if len(snaps) != 1 || snaps[0].Hostname != "site-a" {
		t.Fatalf("want one restic snapshot of %s from host site-a, have %+v\n%s", offsiteStore, snaps, r)
	}
	var create []string
	for _, c := range callsOf(r.Calls, "kubectl", "create") {
		create = append(create, sb.Stdin(c))
	}
	all := strings.Join(create, "\n")
	for _, want := range []string{"name: xwiki-data-xwiki-0-today", "storageClassName: fast", `storage: "5Gi"`, "kind: Pod", "readOnly: true"} {
		if !strings.Contains(all, want) {
			t.Errorf("the created objects lack %q:\n%s", want, all)
		}
	}
	if !strings.Contains(r.Stdout, "odbackup: files copied") {
		t.Errorf("the copy pod's log is not shown:\n%s", r)
	}
}

// TestOffsiteSnapshotNeverReady: a snapshot that never becomes ready fails
// the step, and no clone is made or left behind.
func TestOffsiteSnapshotNeverReady(t *testing.T) {
	t.Parallel()
	step := offsiteStep(t)
	sb := offsiteSandbox(t, step, false)
	sb.Cue("kubectl wait: fail")
	r := sb.Run(step, Opts{})
	if r.OK() {
		t.Fatalf("the step succeeded although its snapshot never became ready:\n%s", r)
	}
	if l := leftovers(sb); len(l) != 0 {
		t.Errorf("left behind: %v\n%s", l, r)
	}
	if c := callsOf(r.Calls, "kubectl", "create"); len(c) != 0 {
		t.Errorf("created objects although the snapshot was not ready: %v", c)
	}
	if len(snapshotsOf(sb, offsiteStore)) != 0 {
		t.Errorf("a restic snapshot was made")
	}
	if !strings.Contains(r.Stderr, "did not become ready") {
		t.Errorf("stderr does not say why:\n%s", r)
	}
}

// TestOffsiteResticFails: a restic backup that fails in the copy pod fails
// the step, and the clone and the copy pod are deleted all the same.
func TestOffsiteResticFails(t *testing.T) {
	t.Parallel()
	step := offsiteStep(t)
	for _, cue := range []string{"restic backup: fail", "restic cat: fail 12"} {
		t.Run(cue, func(t *testing.T) {
			t.Parallel()
			sb := offsiteSandbox(t, step, true)
			// The same step succeeds without the cue: the failure is
			// restic's, not the test's.
			sb.MustRun(step, Opts{})
			before := len(snapshotsOf(sb, offsiteStore))
			sb.Cue(cue)
			r := sb.Run(step, Opts{})
			if r.OK() {
				t.Fatalf("the step succeeded although %q:\n%s", cue, r)
			}
			if l := leftovers(sb); len(l) != 0 {
				t.Errorf("left behind after a failed copy: %v\n%s", l, r)
			}
			if n := len(snapshotsOf(sb, offsiteStore)); n != before {
				t.Errorf("the failed copy left a snapshot (%d before, %d after)", before, n)
			}
			if !strings.Contains(r.Stderr, "the copy pod odbackup-copy-xwiki-data-xwiki-0 failed") {
				t.Errorf("stderr does not name the failed copy:\n%s", r)
			}
		})
	}
}

// TestOffsiteLeftoverRemoved: a clone and copy pod a killed run left are
// deleted before the step clones again.
func TestOffsiteLeftoverRemoved(t *testing.T) {
	t.Parallel()
	step := offsiteStep(t)
	sb := offsiteSandbox(t, step, true)
	sb.PutObject("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: odbackup-clone-xwiki-data-xwiki-0\n")
	r := sb.MustRun(step, Opts{})
	if l := leftovers(sb); len(l) != 0 {
		t.Errorf("left behind: %v\n%s", l, r)
	}
}
