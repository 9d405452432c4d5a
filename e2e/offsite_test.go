package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The off-site copy of a volume (issue 14) against the API server: the
// step runs as its own ServiceAccount; no CSI driver, provisioner or kubelet
// runs, so the test plays them: it marks the snapshot ready, binds the
// clone, runs the copy pod's script on this host with a directory standing
// in for the mounted clone, reports the pod's phase, and lets deleted
// claims go (the pvc-protection controller's part).

const offsiteStore = "xwiki/pvc/xwiki-data-xwiki-0"

// offsiteFixture is a site whose XWiki volume goes off-site, applied, with
// the live claim and a VolumeSnapshot of it.
type offsiteFixture struct {
	e        *Env
	s        *Site
	step     *Container
	snapshot string
}

func newOffsiteFixture(t *testing.T, ready bool) *offsiteFixture {
	e := Setup(t)
	s := e.BuildSite(t, SiteSpec{Apps: []string{"xwiki"}})
	step := s.Offsite(t, offsiteStore)
	s.Apply(t)
	claim := "xwiki-data-xwiki-0"
	e.MustApply(t, s.Namespace, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: `+claim+`}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: fast-ssd
  resources: {requests: {storage: 7Gi}}
`)
	key, value := "odbackup.io/store", regexpFind(t, `(?m)^selector=odbackup\.io/store=(\S+)$`, step.Script())
	name := claim + "-20260101-010000"
	e.CreateVolumeSnapshot(t, s.Namespace, name, claim, "odbackup-"+s.Name, map[string]string{key: value}, ready)
	return &offsiteFixture{e: e, s: s, step: step, snapshot: name}
}

// objectJSON gets one object as JSON, or "" when it does not exist.
func (f *offsiteFixture) objectJSON(t testing.TB, kind, name string) []byte {
	out := f.e.MustKubectl(t, "", "get", kind, name, "--namespace", f.s.Namespace, "--ignore-not-found", "-o", "json")
	return []byte(strings.TrimSpace(out))
}

// run runs the step and plays the controllers and the kubelet until it
// ends; the copy pod runs its script with ODBACKUP_SOURCE=source and the
// environment extra. It returns the step's result and the copy pod's.
func (f *offsiteFixture) run(t *testing.T, env map[string]string, source string, extra map[string]string) (Result, *Result) {
	t.Helper()
	cmd := f.step.Cmd(t, env)
	cmd.Timeout = 3 * time.Minute
	done := make(chan Result, 1)
	go func() { done <- Run(t, cmd) }()
	var copyResult *Result
	for {
		f.controllers(t, source, extra, &copyResult)
		select {
		case r := <-done:
			f.controllers(t, source, extra, &copyResult)
			return r, copyResult
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// controllers does, once, what the cluster's controllers and the kubelet
// would: bind a pending clone, run a copy pod that has no phase, and let
// deleted claims go.
func (f *offsiteFixture) controllers(t *testing.T, source string, extra map[string]string, copyResult **Result) {
	t.Helper()
	ns := f.s.Namespace
	clone := regexpFind(t, `(?m)^clone=(\S+)$`, f.step.Script())
	podName := regexpFind(t, `(?m)^pod=(\S+)$`, f.step.Script())
	if data := f.objectJSON(t, "pvc", clone); len(data) > 0 {
		var pvc corev1.PersistentVolumeClaim
		if err := json.Unmarshal(data, &pvc); err != nil {
			t.Fatal(err)
		}
		if pvc.DeletionTimestamp != nil {
			f.e.MustKubectl(t, "", "patch", "pvc", clone, "--namespace", ns, "--type=merge", `--patch={"metadata": {"finalizers": null}}`)
		} else if pvc.Status.Phase != corev1.ClaimBound {
			ds := pvc.Spec.DataSource
			if ds == nil || ds.Kind != "VolumeSnapshot" || ds.Name != f.snapshot || pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "fast-ssd" ||
				pvc.Spec.Resources.Requests.Storage().String() != "7Gi" {
				t.Errorf("the clone is not a claim of class fast-ssd, 7Gi, from VolumeSnapshot %s: %+v", f.snapshot, pvc.Spec)
			}
			f.e.MustKubectl(t, "", "patch", "pvc", clone, "--namespace", ns, "--subresource=status", "--type=merge", `--patch={"status": {"phase": "Bound"}}`)
		}
	}
	data := f.objectJSON(t, "pod", podName)
	if len(data) == 0 {
		return
	}
	var pod corev1.Pod
	if err := json.Unmarshal(data, &pod); err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != "" && pod.Status.Phase != corev1.PodPending || pod.DeletionTimestamp != nil {
		return
	}
	// The kubelet's part: the pod mounts only the clone, read-only; its
	// script runs here against the stand-in directory.
	for _, v := range pod.Spec.Volumes {
		if c := v.PersistentVolumeClaim; c != nil && (c.ClaimName != clone || !c.ReadOnly) {
			t.Errorf("the copy pod mounts claim %s (read-only: %t)", c.ClaimName, c.ReadOnly)
		}
	}
	c := &Container{Container: pod.Spec.Containers[0], site: f.s, Owner: "pod/" + podName, ServiceAccount: pod.Spec.ServiceAccountName, Pod: pod.Spec}
	env := map[string]string{"ODBACKUP_SOURCE": source}
	for k, v := range extra {
		env[k] = v
	}
	r := c.Run(t, env)
	*copyResult = &r
	phase := "Succeeded"
	if !r.OK() {
		phase = "Failed"
	}
	f.e.MustKubectl(t, "", "patch", "pod", podName, "--namespace", ns, "--subresource=status", "--type=merge", `--patch={"status": {"phase": "`+phase+`"}}`)
}

// noLeftovers checks that neither clone nor copy pod is left.
func (f *offsiteFixture) noLeftovers(t *testing.T) {
	t.Helper()
	for _, kind := range []string{"pvc", "pod"} {
		name := regexpFind(t, `(?m)^`+map[string]string{"pvc": "clone", "pod": "pod"}[kind]+`=(\S+)$`, f.step.Script())
		if data := f.objectJSON(t, kind, name); len(data) > 0 {
			t.Errorf("%s %s is left behind: %s", kind, name, data)
		}
	}
}

// awkwardTree fills dir with what a volume holds: modes, symbolic links
// (one dangling), empty directories and names with spaces, newlines,
// leading dashes, globs and non-ASCII letters.
func awkwardTree(t *testing.T, dir string) {
	t.Helper()
	files := map[string]os.FileMode{
		"plain.txt":               0o644,
		"secret.key":              0o600,
		"bin/run.sh":              0o755,
		"with space/and tab\t.md": 0o640,
		"new\nline":               0o644,
		"-rf":                     0o644,
		"*":                       0o644,
		"Übersicht ✓/ß.txt":       0o664,
		"deep/a/b/c/d.bin":        0o444,
	}
	for name, mode := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte(name+"\n"), 50), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"empty", "private", "deep/empty too"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"link-to-plain": "plain.txt", "bin/up": "../deep/a", "dangling": "does/not/exist"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
}

// treeOf describes every entry under dir: type and mode, owner and group,
// content hash or link target.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%s uid=%d gid=%d", info.Mode(), st.Uid, st.Gid)
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha256=%x", sha256.Sum256(data))
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOffsiteRoundTrip: the step clones the store's snapshot (class and
// size of the live claim), the copy pod stores the clone's files in restic
// for the store and the site, the step deletes the clone and the pod; the
// restore Job then puts the files back into a claim's directory exactly:
// content, modes, owners, symbolic links, empty directories, awkward
// names, and nothing that was not in the backup.
func TestOffsiteRoundTrip(t *testing.T) {
	t.Parallel()
	f := newOffsiteFixture(t, true)
	src := t.TempDir()
	awkwardTree(t, src)
	r, copied := f.run(t, nil, src, nil)
	if !r.OK() {
		t.Fatalf("the off-site copy failed:\n%s\ncopy pod: %v", r, copied)
	}
	if copied == nil {
		t.Fatal("the step never ran its copy pod")
	}
	f.noLeftovers(t)
	snaps := f.e.Snapshots(t, f.s.RepoEnv(t), "--tag=store="+offsiteStore, "--host="+f.s.Name)
	if len(snaps) != 1 {
		t.Fatalf("want one restic snapshot of %s at host %s, have %d", offsiteStore, f.s.Name, len(snaps))
	}

	restore := f.s.Restore(t, offsiteStore, "offsite-copy")
	workload := regexpFind(t, `k get ((?:statefulset|deployment)/[a-z0-9-]+) --output=jsonpath='\{\.spec\.replicas\}`, restore.Script())
	_, name, _ := strings.Cut(workload, "/")
	f.e.MustApply(t, f.s.Namespace, statefulSet(name, 0))
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "stale.txt"), []byte("not in the backup\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	restore.MustRun(t, map[string]string{"ODBACKUP_SOURCE": src, "ODBACKUP_DATA_DIR": dst})
	want, got := treeOf(t, src), treeOf(t, dst)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok && !yield(k) {
				return
			}
		}
	}) {
		if want[k] != got[k] {
			t.Errorf("%q: backed up %q, restored %q", k, want[k], got[k])
		}
	}
}

// TestOffsiteSnapshotNeverReady: a snapshot that never becomes ready fails
// the step in time, and no clone is made.
func TestOffsiteSnapshotNeverReady(t *testing.T) {
	t.Parallel()
	f := newOffsiteFixture(t, false)
	r, copied := f.run(t, map[string]string{"ODBACKUP_READY_TIMEOUT": "3"}, t.TempDir(), nil)
	if r.OK() || r.Err != nil || !strings.Contains(r.Stderr, "did not become ready") {
		t.Fatalf("a snapshot that never became ready did not fail the step:\n%s", r)
	}
	if copied != nil {
		t.Errorf("a copy pod ran: %s", copied)
	}
	f.noLeftovers(t)
}

// TestOffsiteResticFails: restic failing in the copy pod (a wrong
// repository password) fails the step, and the clone and the pod are
// deleted all the same; nothing is stored.
func TestOffsiteResticFails(t *testing.T) {
	t.Parallel()
	f := newOffsiteFixture(t, true)
	src := t.TempDir()
	awkwardTree(t, src)
	// The repository exists with the site's password (BuildSite created
	// it); the pod gets another.
	r, copied := f.run(t, nil, src, map[string]string{"RESTIC_PASSWORD": "not-the-password"})
	if r.OK() {
		t.Fatalf("the step succeeded although restic failed:\n%s", r)
	}
	if copied == nil || copied.OK() {
		t.Fatalf("the copy pod did not fail: %v", copied)
	}
	if !strings.Contains(r.Stderr, "failed; its log") {
		t.Errorf("the step does not say the copy failed:\n%s", r)
	}
	f.noLeftovers(t)
	if n := len(f.e.Snapshots(t, f.s.RepoEnv(t), "--tag=store="+offsiteStore)); n != 0 {
		t.Errorf("%d snapshots after a failed copy", n)
	}
}
