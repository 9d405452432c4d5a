package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/odbackup/odbackup/generator"
)

// inNamespace moves every namespaced object of a generated file into ns
// (metadata.namespace, and the RoleBindings' ServiceAccount subjects), so
// each example applies into a fresh namespace of its own.
func inNamespace(t testing.TB, data []byte, ns string) []byte {
	t.Helper()
	var out []string
	for _, doc := range Docs(data) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		if md, ok := m["metadata"].(map[string]any); ok {
			if _, ok := md["namespace"]; ok {
				md["namespace"] = ns
			}
		}
		if subs, ok := m["subjects"].([]any); ok {
			for _, s := range subs {
				if sm, ok := s.(map[string]any); ok && sm["namespace"] != nil {
					sm["namespace"] = ns
				}
			}
		}
		b, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return []byte(strings.Join(out, "---\n"))
}

// TestExamplesOnAPIServer builds every example site fresh, applies its whole
// output (the kustomization, with kubectl's own kustomize) with server-side
// apply into a fresh namespace, checks every restore Job with a server-side
// dry run, also after the runbooks' sed command set ODBACKUP_SNAPSHOT,
// applies them, and then proves the RBAC of every ServiceAccount (see
// rbacMatrix).
func TestExamplesOnAPIServer(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	files, err := filepath.Glob("../examples/*/site.cue")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	sch, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(f)
			site, err := sch.Evaluate(abs, src)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			tree, err := generator.Generate(site)
			if err != nil {
				t.Fatal(err)
			}
			ns := e.CreateNamespace(t, "example-")
			dir := t.TempDir()
			moved := map[string][]byte{}
			for _, p := range tree.Paths() {
				data := tree[p]
				if strings.HasSuffix(p, ".yaml") && p != "kustomization.yaml" {
					data = inNamespace(t, data, ns)
				}
				if p == "kustomization.yaml" {
					// This API server has no prometheus-operator CRDs; the
					// PrometheusRule is proven by promtool and strict
					// decoding in make test.
					data = []byte(strings.ReplaceAll(string(data), "- alerts/prometheusrule.yaml\n", ""))
				}
				moved[p] = data
				writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), data)
			}

			out := e.MustKubectl(t, "", "apply", "--server-side", "--field-manager=odbackup-e2e", "-k", dir)
			kinds := map[string]int{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				kind, _, _ := strings.Cut(line, "/")
				kinds[kind]++
			}
			var jobs, rbac int
			for _, p := range tree.Paths() {
				switch {
				case strings.HasPrefix(p, "cronjobs/"):
					jobs++
				case strings.HasPrefix(p, "rbac/"):
					rbac++
				}
			}
			if kinds["cronjob.batch"] != jobs || kinds["serviceaccount"] != rbac || kinds["volumesnapshotclass.snapshot.storage.k8s.io"] != 1 {
				t.Errorf("apply -k created %v, want %d CronJobs, %d ServiceAccounts and the VolumeSnapshotClass:\n%s", kinds, jobs, rbac, out)
			}

			restore := filepath.Join(dir, "restore")
			e.MustKubectl(t, "", "apply", "--server-side", "--field-manager=odbackup-e2e", "--dry-run=server", "-R", "-f", restore)
			// The pre-upgrade Jobs, as the upgrade runbook applies them, and
			// the Jobs that create the repositories, as the site runbook does.
			e.MustKubectl(t, "", "apply", "--server-side", "--field-manager=odbackup-e2e", "--dry-run=server", "-R", "-f", filepath.Join(dir, "pre-upgrade"))
			e.MustKubectl(t, "", "apply", "--server-side", "--field-manager=odbackup-e2e", "--dry-run=server", "-R", "-f", filepath.Join(dir, "repository"))
			// The runbooks' way to choose a snapshot: sed on the file.
			var edited []string
			for _, p := range tree.Paths() {
				if strings.HasPrefix(p, "restore/") {
					edited = append(edited, MustRun(t, Cmd{Args: []string{"sed", `/name: ODBACKUP_SNAPSHOT/{n;s/value: .*/value: "0123abcd"/;}`,
						filepath.Join(dir, filepath.FromSlash(p))}}))
				}
			}
			dry := e.MustKubectl(t, strings.Join(edited, "---\n"),
				"apply", "--server-side", "--field-manager=odbackup-e2e", "--dry-run=server", "-f", "-", "-o", "json")
			if n, m := strings.Count(dry, `"name": "ODBACKUP_SNAPSHOT"`), strings.Count(dry, `"value": "0123abcd"`); n == 0 || n != m {
				t.Errorf("after the runbooks' sed, %d of %d restore Jobs restore snapshot 0123abcd", m, n)
			}
			e.MustKubectl(t, "", "apply", "--server-side", "--field-manager=odbackup-e2e", "-R", "-f", restore)

			rbacMatrix(t, e, ns, moved)
		})
	}
}

// volumeSnapshot is a VolumeSnapshot as the tests create and read them.
type volumeSnapshot struct {
	Metadata struct {
		Name              string            `json:"name"`
		Labels            map[string]string `json:"labels"`
		CreationTimestamp time.Time         `json:"creationTimestamp"`
	} `json:"metadata"`
	Spec struct {
		Source struct {
			PersistentVolumeClaimName string `json:"persistentVolumeClaimName"`
		} `json:"source"`
		VolumeSnapshotClassName string `json:"volumeSnapshotClassName"`
	} `json:"spec"`
	Status *struct {
		ReadyToUse bool `json:"readyToUse"`
	} `json:"status"`
}

// VolumeSnapshots lists the VolumeSnapshots of namespace ns, by name.
func (e *Env) VolumeSnapshots(t testing.TB, ns string) map[string]volumeSnapshot {
	t.Helper()
	var list struct {
		Items []volumeSnapshot `json:"items"`
	}
	if err := json.Unmarshal([]byte(e.MustKubectl(t, "", "get", "volumesnapshots", "--namespace", ns, "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]volumeSnapshot{}
	for _, v := range list.Items {
		out[v.Metadata.Name] = v
	}
	return out
}

// CreateVolumeSnapshot creates a VolumeSnapshot of claim with labels.
func (e *Env) CreateVolumeSnapshot(t testing.TB, ns, name, claim, class string, labels map[string]string, ready bool) {
	t.Helper()
	l, _ := json.Marshal(labels)
	e.MustApply(t, ns, `{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
"metadata": {"name": "`+name+`", "labels": `+string(l)+`},
"spec": {"source": {"persistentVolumeClaimName": "`+claim+`"}, "volumeSnapshotClassName": "`+class+`"}}`)
	if ready {
		e.ReadyToUse(t, ns, name)
	}
}

// ReadyToUse does what the CSI snapshot controller would: it marks the
// VolumeSnapshot ready to use.
func (e *Env) ReadyToUse(t testing.TB, ns, name string) {
	t.Helper()
	e.MustKubectl(t, "", "patch", "volumesnapshot", name, "--namespace", ns, "--subresource=status", "--type=merge",
		"--patch", `{"status": {"readyToUse": true}}`)
}

// TestSnapshotJob runs the generated snapshot step of XWiki's attachment
// volume against the API server, as its own ServiceAccount. No CSI
// controller runs: the test marks the new VolumeSnapshot ready to use
// while the step waits, and the step then prunes the store's snapshots to
// the policy's keep (2), oldest first, leaving other stores' snapshots
// and other namespaces alone. A second run that never sees its snapshot
// become ready fails after ODBACKUP_READY_TIMEOUT and prunes nothing.
func TestSnapshotJob(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	const store = "xwiki/pvc/xwiki-data-xwiki-0"
	s := e.BuildSite(t, SiteSpec{Apps: []string{"xwiki"}, Policy: "snapshot: keep: 2\n"})
	step := s.Backup(t, store)
	s.Apply(t)
	// The store's label, as the step's VolumeSnapshot manifest sets it.
	key, value := "odbackup.io/store", regexpFind(t, `(?m)^\s+odbackup\.io/store: (\S+)$`, step.Script())
	class := "odbackup-" + s.Name
	claim := "xwiki-data-xwiki-0"

	// Three older snapshots of the store (the newest last), one of another
	// store, and one with the store's label in another namespace.
	for _, name := range []string{claim + "-20250101-010000", claim + "-20250102-010000", claim + "-20250103-010000"} {
		e.CreateVolumeSnapshot(t, s.Namespace, name, claim, class, map[string]string{key: value}, true)
	}
	e.CreateVolumeSnapshot(t, s.Namespace, "other-store-20250101-010000", "other", class, map[string]string{key: "other-store"}, true)
	elsewhere := e.CreateNamespace(t, "elsewhere-")
	e.CreateVolumeSnapshot(t, elsewhere, claim+"-20250101-010000", claim, class, map[string]string{key: value}, true)
	before := e.VolumeSnapshots(t, s.Namespace)
	waitNextSecond()

	var created volumeSnapshot
	done := RunUntil(t, step.Cmd(t, nil), "the step created its VolumeSnapshot", 100*time.Millisecond, func() bool {
		for name, v := range e.VolumeSnapshots(t, s.Namespace) {
			if _, old := before[name]; !old {
				created = v
				return true
			}
		}
		return false
	})
	if created.Spec.Source.PersistentVolumeClaimName != claim || created.Spec.VolumeSnapshotClassName != class ||
		created.Metadata.Labels[key] != value || !strings.HasPrefix(created.Metadata.Name, claim+"-") {
		t.Errorf("the new VolumeSnapshot: %+v", created)
	}
	select {
	case r := <-done:
		t.Fatalf("the step did not wait for the snapshot to become ready:\n%s", r)
	case <-time.After(time.Second):
	}
	e.ReadyToUse(t, s.Namespace, created.Metadata.Name)
	if r := <-done; !r.OK() {
		t.Fatalf("the snapshot step failed:\n%s", r)
	}
	after := e.VolumeSnapshots(t, s.Namespace)
	var kept []string
	for name, v := range after {
		if v.Metadata.Labels[key] == value {
			kept = append(kept, name)
		}
	}
	slices.Sort(kept)
	if want := []string{claim + "-20250103-010000", created.Metadata.Name}; !slices.Equal(kept, want) {
		t.Errorf("the store's snapshots after pruning to 2: %v, want %v", kept, want)
	}
	if _, ok := after["other-store-20250101-010000"]; !ok {
		t.Error("the step deleted another store's snapshot")
	}
	if len(e.VolumeSnapshots(t, elsewhere)) != 1 {
		t.Error("the step deleted a snapshot in another namespace")
	}

	// The next run's snapshot never becomes ready: the step fails in time,
	// deletes the snapshot it created, with its own token (issue 16 item
	// A: failed runs leave no broken snapshots behind), and keeps the
	// older ones.
	waitNextSecond()
	cmd := step.Cmd(t, map[string]string{"ODBACKUP_READY_TIMEOUT": "3"})
	cmd.Timeout = time.Minute
	r := Run(t, cmd)
	if r.OK() || r.Err != nil || !strings.Contains(r.Stderr, "did not become ready") {
		t.Errorf("a snapshot that never became ready did not fail the step:\n%s", r)
	}
	var left []string
	for name, v := range e.VolumeSnapshots(t, s.Namespace) {
		if v.Metadata.Labels[key] == value {
			left = append(left, name)
		}
	}
	slices.Sort(left)
	if !slices.Equal(left, kept) {
		t.Errorf("the store's snapshots after the failed run: %v, want %v (the failed run's deleted, none pruned)", left, kept)
	}
}

// TestClaimRestore runs the generated restore Job of XWiki's attachment
// volume against the API server, as its ServiceAccount: it refuses while
// the StatefulSet has replicas, then deletes the live claim (the test
// removes the pvc-protection finalizer, as the controller would) and
// creates it again with the chosen VolumeSnapshot as its data source,
// keeping class, access modes, size, labels and annotations, but not the
// annotations of the old volume binding. No CSI driver fills the volume
// here: that the data is the snapshot's is the driver's part.
func TestClaimRestore(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	const store = "xwiki/pvc/xwiki-data-xwiki-0"
	claim := "xwiki-data-xwiki-0"
	s := e.BuildSite(t, SiteSpec{Apps: []string{"xwiki"}})
	restore := s.Restore(t, store, "csi-snapshot")
	backup := s.Backup(t, store)
	s.Apply(t)
	key, value := "odbackup.io/store", regexpFind(t, `(?m)^\s+odbackup\.io/store: (\S+)$`, backup.Script())

	e.MustApply(t, s.Namespace, `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: `+claim+`
  labels: {app.kubernetes.io/instance: xwiki, app.kubernetes.io/managed-by: Helm}
  annotations:
    meta.helm.sh/release-name: xwiki
    pv.kubernetes.io/bind-completed: "yes"
    volume.kubernetes.io/storage-provisioner: hostpath.csi.k8s.io
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: fast-ssd
  resources: {requests: {storage: 7Gi}}
`)
	older, chosen := claim+"-20250101-010000", claim+"-20250102-010000"
	class := "odbackup-" + s.Name
	e.CreateVolumeSnapshot(t, s.Namespace, older, claim, class, map[string]string{key: value}, true)
	waitNextSecond()
	e.CreateVolumeSnapshot(t, s.Namespace, chosen, claim, class, map[string]string{key: value}, true)
	// The newest is not ready: latest means the newest ready one.
	e.CreateVolumeSnapshot(t, s.Namespace, claim+"-20250103-010000", claim, class, map[string]string{key: value}, false)

	workload := regexpFind(t, `k get ((?:statefulset|deployment)/[a-z0-9-]+) --output=jsonpath='\{\.spec\.replicas\}`, restore.Script())
	kind, name, _ := strings.Cut(workload, "/")
	if kind != "statefulset" {
		t.Fatalf("XWiki's workload is a %s", kind)
	}
	e.MustApply(t, s.Namespace, statefulSet(name, 1))
	if r := restore.Run(t, nil); r.OK() || !strings.Contains(r.Stderr, "scale it to 0") {
		t.Fatalf("the restore ran while %s has replicas:\n%s", workload, r)
	}
	e.MustApply(t, s.Namespace, statefulSet(name, 0))

	// The CSI controller's part: the safety snapshot of the live claim
	// becomes ready; then the pvc-protection controller's: let the
	// deletion finish.
	var safety string
	done := RunUntil(t, restore.Cmd(t, nil), "the restore deleted the claim", 100*time.Millisecond, func() bool {
		for name, v := range e.VolumeSnapshots(t, s.Namespace) {
			if v.Metadata.Labels["odbackup.io/safety"] != "" && (v.Status == nil || !v.Status.ReadyToUse) {
				if v.Metadata.Labels[key] != value || v.Spec.Source.PersistentVolumeClaimName != claim {
					t.Errorf("the safety snapshot %s: %+v", name, v)
				}
				safety = name
				e.ReadyToUse(t, s.Namespace, name)
			}
		}
		return e.MustKubectl(t, "", "get", "pvc", claim, "--namespace", s.Namespace, "--ignore-not-found", "-o", "jsonpath={.metadata.deletionTimestamp}") != ""
	})
	if safety == "" {
		t.Error("the claim was deleted without a safety snapshot")
	}
	e.MustKubectl(t, "", "patch", "pvc", claim, "--namespace", s.Namespace, "--type=json", `--patch=[{"op": "remove", "path": "/metadata/finalizers"}]`)
	if r := <-done; !r.OK() {
		t.Fatalf("the claim restore failed:\n%s", r)
	}
	var pvc struct {
		Metadata struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			AccessModes      []string `json:"accessModes"`
			StorageClassName string   `json:"storageClassName"`
			Resources        struct {
				Requests map[string]string `json:"requests"`
			} `json:"resources"`
			DataSource map[string]string `json:"dataSource"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(e.MustKubectl(t, "", "get", "pvc", claim, "--namespace", s.Namespace, "-o", "json")), &pvc); err != nil {
		t.Fatal(err)
	}
	if ds := pvc.Spec.DataSource; ds["kind"] != "VolumeSnapshot" || ds["name"] != chosen || ds["apiGroup"] != "snapshot.storage.k8s.io" {
		t.Errorf("the new claim's data source is %v, want VolumeSnapshot %s", ds, chosen)
	}
	if pvc.Spec.StorageClassName != "fast-ssd" || !slices.Equal(pvc.Spec.AccessModes, []string{"ReadWriteOnce"}) || pvc.Spec.Resources.Requests["storage"] != "7Gi" {
		t.Errorf("the new claim's spec: %+v", pvc.Spec)
	}
	if pvc.Metadata.Labels["app.kubernetes.io/managed-by"] != "Helm" || pvc.Metadata.Annotations["meta.helm.sh/release-name"] != "xwiki" {
		t.Errorf("the new claim lost Helm's labels or annotations: %+v", pvc.Metadata)
	}
	for k := range pvc.Metadata.Annotations {
		if strings.HasPrefix(k, "pv.kubernetes.io/") || strings.HasPrefix(k, "volume.kubernetes.io/") {
			t.Errorf("the new claim kept the old volume's annotation %s", k)
		}
	}
}
