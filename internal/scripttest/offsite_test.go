package scripttest

// The off-site copy of a volume (issue 14): whatever fails, the step fails
// and no clone (nor copy pod) is left behind.

import (
	"crypto/sha256"
	"fmt"
	"maps"
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

// TestOffsiteDrill: the copy records a sample of the clone's files (16 of
// them, picked at random, names with a newline left out) with their
// SHA-256 sums in the same snapshot as the files; the drill restores the
// sampled files from that snapshot and passes. It fails, with one line
// that says why, on a copy without a sample (made before odbackup
// recorded one), a sample cut short, one odbackup did not write, a file
// whose content does not match its sum, a sampled file missing from the
// copy, and a restic dump that fails. A volume without files passes with
// nothing to check. That the checks hold with the real restic and
// busybox's tools, e2e TestDrillOffsite proves.
func TestOffsiteDrill(t *testing.T) {
	t.Parallel()
	step := offsiteStep(t)
	drill := offsiteDrillStep(t, testSite(t, "site-a", []string{"xwiki"}, ""), offsiteStore)
	fail := "odbackup drill FAILED: " + offsiteStore + ": "
	sb := offsiteSandbox(t, step, true)
	clone := filepath.Join(sb.State, stubs.CloneDir)
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(clone, fmt.Sprintf("page %02d.txt", i)), []byte(fmt.Sprintf("page %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(clone, "new\nline"), []byte("left out of the sample\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sb.MustRun(step, Opts{})
	snaps := snapshotsOf(sb, offsiteStore)
	if len(snaps) != 1 {
		t.Fatalf("want one snapshot of %s, have %d", offsiteStore, len(snaps))
	}
	good := snaps[0]
	sampleDir := filepath.Join(sb.State, stubs.SampleDir)
	samplePath := filepath.Join(sampleDir, "sample.sha256")
	sample := sb.Content(good, samplePath)
	lines := strings.Split(strings.TrimSuffix(sample, "\n"), "\n")
	if lines[0] != "# odbackup sample: 16 of 21 files, SHA-256" || len(lines) != 17 {
		t.Fatalf("the copy's sample does not list 16 of the clone's 21 files:\n%s", sample)
	}
	seen := map[string]bool{}
	for _, l := range lines[1:] {
		sum, file, _ := strings.Cut(l, " ")
		content := sb.Content(good, file)
		if seen[file] || fmt.Sprintf("%x", sha256.Sum256([]byte(content))) != sum || !strings.HasPrefix(file, clone+"/") {
			t.Errorf("sample line %q: not a file of the clone with its SHA-256 sum, or twice", l)
		}
		seen[file] = true
	}
	for _, leftover := range []string{"count", "picked"} {
		if _, err := os.Stat(filepath.Join(sampleDir, leftover)); err == nil {
			t.Errorf("the copy left its working file %s in the sample folder (restic stores it)", leftover)
		}
	}
	opts := Opts{Env: map[string]string{"ODBACKUP_SAMPLE_DIR": sampleDir}}
	r := sb.MustRun(drill, opts)
	if !strings.Contains(r.Stdout, "odbackup drill: 16 of the 21 files of snapshot "+good.ShortID+" restored and match") ||
		lastLine(r.Stdout) != "odbackup drill passed: "+offsiteStore+": the copy's sample matches" {
		t.Errorf("the drill of a good copy did not check its 16 files and pass:\n%s", r)
	}

	// The good snapshot's files, with changes.
	files := map[string][]byte{}
	for p := range good.Files {
		files[p] = []byte(sb.Content(good, p))
	}
	first := strings.SplitN(lines[1], " ", 2)[1]
	for _, c := range []struct {
		name   string
		change func(map[string][]byte)
		reason string
	}{
		{"no sample", func(f map[string][]byte) { delete(f, samplePath) }, "holds no sample of checksums"},
		{"cut short", func(f map[string][]byte) { f[samplePath] = []byte(strings.Join(lines[:9], "\n") + "\n") }, "lists 8 files; its header says 16"},
		{"not odbackup's", func(f map[string][]byte) { f[samplePath] = []byte(strings.Join(lines[1:], "\n") + "\n") }, "does not start with its header"},
		{"differs", func(f map[string][]byte) { f[first] = []byte("changed\n") }, first + " restored from snapshot "},
		{"missing", func(f map[string][]byte) { delete(f, first) }, "restic dump of " + first + " from snapshot "},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sb := NewSandbox(t)
			sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
			changed := maps.Clone(files)
			c.change(changed)
			sb.Seed(stubs.Snapshot{Hostname: good.Hostname, Tags: good.Tags, Paths: good.Paths}, changed)
			r := sb.Run(drill, opts)
			if l := lastLine(r.Stderr); r.OK() || !strings.HasPrefix(l, fail) || !strings.Contains(l, c.reason) {
				t.Errorf("the drill's last line is %q, want a failure with %q:\n%s", l, c.reason, r)
			}
		})
	}

	t.Run("empty volume", func(t *testing.T) {
		t.Parallel()
		sb := NewSandbox(t)
		sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
		sb.Seed(stubs.Snapshot{Hostname: good.Hostname, Tags: good.Tags, Paths: []string{samplePath}},
			map[string][]byte{samplePath: []byte("# odbackup sample: 0 of 0 files, SHA-256\n")})
		r := sb.MustRun(drill, opts)
		if !strings.Contains(lastLine(r.Stdout), "the volume held no files at the newest copy") {
			t.Errorf("the drill of an empty volume's copy did not pass saying so:\n%s", r)
		}
	})
	t.Run("no snapshot", func(t *testing.T) {
		t.Parallel()
		sb := NewSandbox(t)
		sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
		r := sb.Run(drill, opts)
		if l := lastLine(r.Stderr); r.OK() || l != fail+"the repository holds no off-site copy of this volume for site site-a" {
			t.Errorf("the drill without a snapshot did not fail saying so:\n%s", r)
		}
	})
	t.Run("restic dump fails", func(t *testing.T) {
		sb.Cue("restic dump: fail")
		r := sb.Run(drill, opts)
		if r.OK() || !strings.HasPrefix(lastLine(r.Stderr), fail) {
			t.Errorf("the drill did not fail when restic dump failed:\n%s", r)
		}
	})
}
