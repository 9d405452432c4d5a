package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	// scratch, when set, runs the copy pod's script as the user and
	// groups its securityContext names (see asPod), with what it needs
	// under scratch.
	scratch string
	// sample stands in for the copy pod's /tmp/odbackup-sample (the
	// drill's sample): the host's /tmp is shared by parallel tests.
	sample string
}

func newOffsiteFixture(t *testing.T, ready bool) *offsiteFixture {
	e := Setup(t)
	s := e.BuildSite(t, SiteSpec{Apps: []string{"xwiki"}})
	step := s.Offsite(t, offsiteStore)
	// The API server's PodSecurity admission refuses a copy pod that is
	// not "restricted" (the step creates it as a Pod).
	e.MustKubectl(t, "", "label", "namespace", s.Namespace, "pod-security.kubernetes.io/enforce=restricted")
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
	// World-writable, outside t.TempDir's private parent: the copy may
	// run as the pod's user (asPod).
	sample, err := os.MkdirTemp("", "odbackup-sample-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sample) })
	if err := os.Chmod(sample, 0o777); err != nil {
		t.Fatal(err)
	}
	return &offsiteFixture{e: e, s: s, step: step, snapshot: name, sample: sample}
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
	env := map[string]string{"ODBACKUP_SOURCE": source, "ODBACKUP_SAMPLE_DIR": f.sample}
	for k, v := range extra {
		env[k] = v
	}
	cmd := c.Cmd(t, env)
	if f.scratch != "" {
		cmd = asPod(t, cmd, pod.Spec.SecurityContext, f.scratch)
	}
	r := Run(t, cmd)
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

// asPod makes cmd run as the user and groups of a pod's securityContext,
// as the kubelet starts its containers: setpriv with runAsUser, runAsGroup
// and, as supplementary groups, fsGroup and supplementalGroups. HOME,
// TMPDIR, the restic cache and the kubeconfig move to a directory of that
// user under scratch, and restic and kubectl are linked into scratch/bin:
// the test's own are under root's home, which other users cannot enter.
// Only root can switch users (the e2e servers need root anyway).
func asPod(t *testing.T, cmd Cmd, sc *corev1.PodSecurityContext, scratch string) Cmd {
	t.Helper()
	if sc == nil || sc.RunAsUser == nil || sc.RunAsGroup == nil {
		t.Fatalf("the pod's securityContext names no user and group: %+v", sc)
	}
	uid, gid := int(*sc.RunAsUser), int(*sc.RunAsGroup)
	var groups []string
	if sc.FSGroup != nil {
		groups = append(groups, fmt.Sprint(*sc.FSGroup))
	}
	for _, g := range sc.SupplementalGroups {
		groups = append(groups, fmt.Sprint(g))
	}
	home, err := os.MkdirTemp(scratch, "home-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(scratch, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	path := cmd.Env["PATH"]
	for _, tool := range []string{"restic", "kubectl"} {
		dst := filepath.Join(bin, tool)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		src := MustRun(t, Cmd{Args: []string{"sh", "-c", "command -v " + tool}, Env: map[string]string{"PATH": path}})
		MustRun(t, Cmd{Args: []string{"cp", strings.TrimSpace(src), dst}})
	}
	env := maps.Clone(cmd.Env)
	env["PATH"] = bin + ":" + path
	env["HOME"], env["TMPDIR"] = home, home
	if _, ok := env["RESTIC_CACHE_DIR"]; ok {
		env["RESTIC_CACHE_DIR"] = filepath.Join(home, "cache")
	}
	if kc := env["KUBECONFIG"]; kc != "" {
		if data, err := os.ReadFile(kc); err == nil {
			env["KUBECONFIG"] = filepath.Join(home, "kubeconfig")
			if err := os.WriteFile(env["KUBECONFIG"], data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := filepath.WalkDir(home, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
	args := []string{"setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", gid), "--clear-groups"}
	if len(groups) > 0 {
		args[3] = "--groups=" + strings.Join(groups, ",")
	}
	cmd.Args = append(append(args, "--"), cmd.Args...)
	cmd.Env, cmd.Dir = env, home
	cmd.Desc = fmt.Sprintf("(as %d:%d, groups %v) %s", uid, gid, groups, cmd.Desc)
	return cmd
}

// chownTree gives every entry under dir (and dir) to uid:gid.
func chownTree(t *testing.T, dir string, uid, gid int) {
	t.Helper()
	if err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestOffsiteRoundTrip: the step clones the store's snapshot (class and
// size of the live claim), the copy pod stores the clone's files in restic
// for the store and the site, the step deletes the clone and the pod; the
// restore Job then puts the files back into a claim's directory exactly:
// content, modes, owners, symbolic links, empty directories, awkward
// names, and nothing that was not in the backup.
//
// Owners: the copy pod and the restore Job run as XWiki's user and groups
// (catalog: 100, 101, fsGroup 101), and the API server admits both under
// Pod Security "restricted". Run as root, the test runs their scripts as
// those ids (asPod): the volume's files are XWiki's, one belongs to
// another user and is readable only through the group; the copy reads
// them all, and the restore gives back every owner and group it may (its
// own user, its groups) and makes the foreign file XWiki's, as the runbook
// says. Not run as root, it cannot switch users and compares the tree as
// before (one user owns everything).
func TestOffsiteRoundTrip(t *testing.T) {
	t.Parallel()
	f := newOffsiteFixture(t, true)
	restore := f.s.Restore(t, offsiteStore, "offsite-copy")
	sc := restore.Pod.SecurityContext
	if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 100 || sc.RunAsGroup == nil || *sc.RunAsGroup != 101 || sc.FSGroup == nil || *sc.FSGroup != 101 {
		t.Fatalf("the restore Job does not run as XWiki's user 100, group 101, fsGroup 101: %+v", sc)
	}
	// A Job's pods are only admitted when they are created; a server-side
	// dry run of its pod stands in for the controller.
	podJSON, err := json.Marshal(corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "restore-pod-check"}, Spec: restore.Pod})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.e.KubectlCmd(t, string(podJSON), "create", "--namespace", f.s.Namespace, "--dry-run=server", "-f", "-"); !r.OK() {
		t.Fatalf("the API server refuses the restore Job's pod in a restricted namespace:\n%s", r)
	}

	asRoot := os.Geteuid() == 0
	base := t.TempDir()
	if asRoot {
		var err error
		if base, err = os.MkdirTemp("", "odbackup-offsite-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(base) })
		if err := os.Chmod(base, 0o755); err != nil {
			t.Fatal(err)
		}
		f.scratch = base
	} else {
		t.Log("not root: the scripts run as this test's user, owners are not switched")
	}
	src := filepath.Join(base, "src")
	awkwardTree(t, src)
	const foreign = "foreign.txt"
	if asRoot {
		chownTree(t, src, 100, 101)
		if err := os.WriteFile(filepath.Join(src, foreign), []byte("another user's file, readable by the group\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(filepath.Join(src, foreign), 4242, 101); err != nil {
			t.Fatal(err)
		}
	}
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

	workload := regexpFind(t, `k get ((?:statefulset|deployment)/[a-z0-9-]+) --output=jsonpath='\{\.spec\.replicas\}`, restore.Script())
	_, name, _ := strings.Cut(workload, "/")
	f.e.MustApply(t, f.s.Namespace, statefulSet(name, 0))
	// The claim to restore into, as the kubelet hands it to a pod with
	// fsGroup 101: its root and files of group 101, group-writable, the
	// root setgid.
	dst := filepath.Join(base, "dst")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "stale.txt"), []byte("not in the backup\n"), 0o664); err != nil {
		t.Fatal(err)
	}
	cmd := restore.Cmd(t, map[string]string{"ODBACKUP_SOURCE": src, "ODBACKUP_DATA_DIR": dst})
	if asRoot {
		chownTree(t, dst, 0, 101)
		if err := os.Chmod(dst, 0o2775); err != nil {
			t.Fatal(err)
		}
		cmd = asPod(t, cmd, sc, base)
	}
	if res := Run(t, cmd); !res.OK() {
		t.Fatalf("the restore failed:\n%s", res)
	} else if asRoot && !strings.Contains(res.Stdout, "as user 100, group 101") {
		t.Errorf("the restore does not say it runs as user 100, group 101:\n%s", res.Stdout)
	}
	want, got := treeOf(t, src), treeOf(t, dst)
	if asRoot {
		// A restricted pod cannot give a file to another user: the
		// foreign file comes back the restoring user's, with its group.
		if !strings.Contains(want[foreign], "uid=4242 gid=101") {
			t.Fatalf("the foreign file is not 4242:101 in the source: %q", want[foreign])
		}
		want[foreign] = strings.Replace(want[foreign], "uid=4242", "uid=100", 1)
	}
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

// TestDrillOffsite: the restore drill of an off-site copy with the real
// restic and the tools of the images' busybox. The copy pod, run as the
// step creates it, records a sample of the clone's files with their
// SHA-256 sums in the same snapshot; the drill restores every sampled
// file of the awkward tree (names with spaces, tabs, globs, a leading
// dash, non-ASCII letters; the name with a newline is left out) and
// passes. A newer copy whose recorded sum of a file differs from the
// file's content (what a repository that lost or changed data would
// give) fails the drill, naming the file.
func TestDrillOffsite(t *testing.T) {
	t.Parallel()
	f := newOffsiteFixture(t, true)
	src := filepath.Join(t.TempDir(), "src")
	awkwardTree(t, src)
	sample := f.sample
	r, copied := f.run(t, nil, src, nil)
	if !r.OK() || copied == nil || !copied.OK() {
		t.Fatalf("the off-site copy failed:\n%s\ncopy pod: %v", r, copied)
	}
	if !strings.Contains(copied.Stdout, "odbackup: 8 of the 8 files sampled for the restore drill") {
		t.Errorf("the copy pod did not sample the 8 files of the tree that have no newline in their name:\n%s", copied)
	}
	drill := f.s.OffsiteDrill(t, offsiteStore)
	env := scratch(t)
	env["ODBACKUP_SAMPLE_DIR"] = sample
	res := drill.Run(t, env)
	if !res.OK() || !strings.Contains(res.Stdout, "odbackup drill: 8 of the 8 files of snapshot ") ||
		!strings.Contains(res.Stdout, "odbackup drill passed: "+offsiteStore+": the copy's sample matches") {
		t.Fatalf("the drill of a good off-site copy did not check 8 files and pass:\n%s", res)
	}

	// A copy whose sample records another sum for one file.
	sums := filepath.Join(sample, "sample.sha256")
	data, err := os.ReadFile(sums)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	_, file, _ := strings.Cut(lines[1], " ")
	lines[1] = strings.Repeat("0", 64) + " " + file
	if err := os.WriteFile(sums, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	waitNextSecond()
	must(t, "restic backup of a copy with a wrong sum", Run(t, Cmd{Args: []string{"restic", "backup", "--host=" + f.s.Name,
		"--tag=odbackup", "--tag=app=xwiki", "--tag=store=" + offsiteStore, src, sample}, Env: f.s.RepoEnv(t)}))
	drillFailed(t, drill.Run(t, env), offsiteStore, file+" restored from snapshot ")
}
