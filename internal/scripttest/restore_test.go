package scripttest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/internal/scripttest/stubs"
)

// changes reports whether a stub call changes anything: a restore's
// writes, a claim's deletion, an exec into a pod.
func changes(c stubs.Call) bool {
	switch c.Cmd {
	case "kubectl":
		return !slices.Contains([]string{"get", "wait", "logs"}, stubs.ParseKubectl(c.Args).Verb)
	case "restic":
		return !slices.Contains([]string{"snapshots", "cat", "ls", "version"}, stubs.ParseRestic(c.Args).Sub)
	case "rclone":
		return len(c.Args) == 0 || !slices.Contains([]string{"lsf", "lsd", "ls", "obscure", "lsjson"}, c.Args[0])
	}
	return true
}

// TestRestoreAppliedAsIsRestoresNothing (issue 16 item 7): every restore
// Job of the examples, run with the environment of its file (what
// `kubectl apply -R -f out/<site>` by habit starts), only lists what it
// could restore, changes nothing and says so, even with a backup of its
// store in the repository and snapshots of its claim on the cluster.
func TestRestoreAppliedAsIsRestoresNothing(t *testing.T) {
	all := example(t, "ce-school")
	n := 0
	for _, step := range all {
		// Pre-upgrade Jobs (pre-upgrade/) back up; applied by accident,
		// they take one more backup and change nothing.
		if step.Kind != "Job" || step.Copy() || !strings.HasPrefix(step.File, "restore/") {
			continue
		}
		n++
		t.Run(step.Owner, func(t *testing.T) {
			sb := NewSandbox(t)
			sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
			if step.Annotations["odbackup.io/method"] == "csi-snapshot" {
				script, _ := step.Script()
				claim := regexpFind(t, `(?m)^claim='?([^'\n]+)'?$`, script)
				label := regexpFind(t, `(?m)^selector='?odbackup\.io/store=([^'\n]+)'?$`, script)
				sb.PutObject(fmt.Sprintf(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: old-1, creationTimestamp: "2026-01-01T02:00:00Z", labels: {odbackup.io/store: %s}}
spec: {source: {persistentVolumeClaimName: %s}}
status: {readyToUse: true}
`, label, claim))
			}
			r := sb.Run(step, Opts{})
			for _, c := range r.Calls {
				if changes(c) {
					t.Errorf("applied as it is, the restore called %s", c.Line())
				}
			}
			if !r.OK() || !strings.Contains(r.Stdout, "nothing restored") {
				t.Errorf("applied as it is, the restore does not only list:\n%s", r)
			}
		})
	}
	if n == 0 {
		t.Fatal("no restore Jobs")
	}
}

// claimRestoreSandbox is XWiki's claim restore with its claim, its stopped
// StatefulSet and one ready snapshot in a sandbox.
func claimRestoreSandbox(t *testing.T) (*Step, *Sandbox) {
	t.Helper()
	all := testSite(t, "site-a", []string{"xwiki"}, "")
	step := restoreStep(t, all, "xwiki/pvc/xwiki-data-xwiki-0", "csi-snapshot")
	script, _ := step.Script()
	label := regexpFind(t, `(?m)^selector='?odbackup\.io/store=([^'\n]+)'?$`, script)
	workload := regexpFind(t, `k get statefulset/(\S+) --output=jsonpath`, script)
	sb := NewSandbox(t)
	sb.PutObject(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: xwiki-data-xwiki-0}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`)
	sb.PutObject(fmt.Sprintf(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: %s}
spec: {replicas: 0}
status: {replicas: 0}
`, workload))
	sb.PutObject(fmt.Sprintf(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: old-1, creationTimestamp: "2026-01-01T02:00:00Z", labels: {odbackup.io/store: %s}}
spec: {source: {persistentVolumeClaimName: xwiki-data-xwiki-0}}
status: {readyToUse: true}
`, label))
	return step, sb
}

// safetySnapshots are the sandbox's VolumeSnapshots labelled
// odbackup.io/safety, with the claim they are of.
func safetySnapshots(sb *Sandbox) []string {
	var out []string
	for _, o := range sb.Objects("volumesnapshot") {
		md := o["metadata"].(map[string]any)
		labels, _ := md["labels"].(map[string]any)
		if _, ok := labels["odbackup.io/safety"]; !ok {
			continue
		}
		src := o["spec"].(map[string]any)["source"].(map[string]any)["persistentVolumeClaimName"]
		out = append(out, fmt.Sprintf("%s of %v store=%v", md["name"], src, labels["odbackup.io/store"]))
	}
	return out
}

// TestClaimRestoreTakesSafetySnapshot (issue 16 item 7): a restore that
// replaces a live claim first takes a VolumeSnapshot of it, labelled as
// the store's and as a safety snapshot, and deletes nothing until that
// snapshot is ready to use; if it never is, the claim stays.
func TestClaimRestoreTakesSafetySnapshot(t *testing.T) {
	step, sb := claimRestoreSandbox(t)
	r := sb.Run(step, Opts{Env: map[string]string{"ODBACKUP_SNAPSHOT": "latest"}})
	safety := safetySnapshots(sb)
	if len(safety) != 1 || !strings.Contains(safety[0], " of xwiki-data-xwiki-0 store=") || strings.HasSuffix(safety[0], "store=<nil>") {
		t.Fatalf("want one safety snapshot of the claim with the store's label, have %v:\n%s", safety, r)
	}
	created, deleted := -1, -1
	for i, c := range r.Calls {
		k := stubs.ParseKubectl(c.Args)
		if c.Cmd == "kubectl" && k.Verb == "wait" && created < 0 {
			created = i
		}
		if c.Cmd == "kubectl" && k.Verb == "delete" && deleted < 0 {
			deleted = i
		}
	}
	if created < 0 || deleted >= 0 && deleted < created {
		t.Errorf("the claim was deleted before its safety snapshot was ready:\n%s", r)
	}

	step, sb = claimRestoreSandbox(t)
	sb.Cue("kubectl wait: fail")
	r = sb.Run(step, Opts{Env: map[string]string{"ODBACKUP_SNAPSHOT": "latest", "ODBACKUP_READY_TIMEOUT": "1"}})
	if r.OK() || !strings.Contains(r.Stderr, "did not become ready") {
		t.Errorf("a safety snapshot that never became ready did not stop the restore:\n%s", r)
	}
	for _, c := range r.Calls {
		if c.Cmd == "kubectl" && stubs.ParseKubectl(c.Args).Verb == "delete" {
			t.Errorf("the claim was deleted although its safety snapshot never became ready: %s", c.Line())
		}
	}
	if len(sb.Objects("persistentvolumeclaim")) != 1 {
		t.Error("the claim is gone")
	}
}

// TestClaimRestoreLatestSkipsSafetySnapshots (issue 16 item 7): latest
// is the newest ready snapshot the backups made, never a safety snapshot
// a restore took, so running a restore twice does not bring back what the
// first one replaced.
func TestClaimRestoreLatestSkipsSafetySnapshots(t *testing.T) {
	step, sb := claimRestoreSandbox(t)
	script, _ := step.Script()
	label := regexpFind(t, `(?m)^selector='?odbackup\.io/store=([^'\n]+)'?$`, script)
	sb.PutObject(fmt.Sprintf(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: xwiki-data-xwiki-0-safety-20260102-020000, creationTimestamp: "2026-01-02T02:00:00Z", labels: {odbackup.io/store: %s, odbackup.io/safety: pre-restore}}
spec: {source: {persistentVolumeClaimName: xwiki-data-xwiki-0}}
status: {readyToUse: true}
`, label))
	r := sb.Run(step, Opts{Env: map[string]string{"ODBACKUP_SNAPSHOT": "latest"}})
	if len(callsOf(r.Calls, "kubectl", "get volumesnapshot old-1 ")) == 0 || len(callsOf(r.Calls, "kubectl", "get volumesnapshot xwiki-data-xwiki-0-safety-20260102")) > 0 {
		t.Errorf("latest picked the safety snapshot, not old-1:\n%s", r)
	}
}
