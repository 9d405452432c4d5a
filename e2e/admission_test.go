package e2e

import (
	"strings"
	"testing"
	"time"
)

// asAccount runs kubectl with the kubeconfig of a ServiceAccount.
func (e *Env) asAccount(t testing.TB, kubeconfig, input string, args ...string) Result {
	t.Helper()
	return Run(t, Cmd{Args: append([]string{e.Kubectl, "--kubeconfig", kubeconfig}, args...), Stdin: stdin(input)})
}

// TestAdmissionPolicies proves, with tokens the API server issued, what the
// generated ValidatingAdmissionPolicies add to RBAC: RBAC lets the Postfix
// backup delete every VolumeSnapshot of the namespace, the policy lets it
// delete and create only those labelled with its own stores; the restore
// of XWiki's claim may create that claim and no other. The API server
// enforces a new policy a moment after it is created, so the test first
// waits (with server-side dry runs) until the refusal appears.
func TestAdmissionPolicies(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	s := e.BuildSite(t, SiteSpec{Apps: []string{"xwiki", "postfix"}})
	s.Apply(t)
	const xwikiStore, postfixStore = "xwiki/pvc/xwiki-data-xwiki-0", "postfix/pvc/postfix"
	key := "odbackup.io/store"
	xwikiLabel := regexpFind(t, `(?m)^\s+odbackup\.io/store: (\S+)$`, s.Backup(t, xwikiStore).Script())
	postfix := s.Backup(t, postfixStore)
	postfixScript := postfix.Script()
	postfixLabel := regexpFind(t, `(?m)^\s+odbackup\.io/store: (postfix-pvc-postfix-\S+)$`, postfixScript)
	class := "odbackup-" + s.Name
	ns := s.Namespace

	xwikiSnap, postfixSnap := "xwiki-data-xwiki-0-20250101-010000", "postfix-20250101-010000"
	e.CreateVolumeSnapshot(t, ns, xwikiSnap, "xwiki-data-xwiki-0", class, map[string]string{key: xwikiLabel}, true)
	e.CreateVolumeSnapshot(t, ns, postfixSnap, "postfix", class, map[string]string{key: postfixLabel}, true)

	// RBAC alone allows the Postfix account to delete XWiki's snapshot.
	if !e.CanI(t, ns, ns, postfix.ServiceAccount, "delete", "volumesnapshots.snapshot.storage.k8s.io/"+xwikiSnap) {
		t.Fatalf("RBAC does not let %s delete VolumeSnapshots; the test proves nothing", postfix.ServiceAccount)
	}
	pf := s.Kubeconfig(t, postfix.ServiceAccount)
	refusal := "odbackup: ServiceAccount " + postfix.ServiceAccount + " may create and delete only volumesnapshots.snapshot.storage.k8s.io labelled"
	deadline := time.Now().Add(time.Minute)
	for {
		r := e.asAccount(t, pf, "", "--namespace", ns, "delete", "volumesnapshot", xwikiSnap, "--dry-run=server")
		if !r.OK() && strings.Contains(r.Stderr, refusal) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admission policy never refused the Postfix account deleting XWiki's snapshot (is the ValidatingAdmissionPolicy plugin enabled?):\n%s", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := e.asAccount(t, pf, "", "--namespace", ns, "delete", "volumesnapshot", xwikiSnap); r.OK() || !strings.Contains(r.Stderr, refusal) {
		t.Errorf("the Postfix token deleted XWiki's snapshot:\n%s", r)
	}
	if _, ok := e.VolumeSnapshots(t, ns)[xwikiSnap]; !ok {
		t.Fatal("XWiki's snapshot is gone")
	}

	snapshot := func(name, label string) string {
		labels := ""
		if label != "" {
			labels = `, "labels": {"` + key + `": "` + label + `"}`
		}
		return `{"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot", "metadata": {"name": "` + name + `"` + labels + `},
"spec": {"source": {"persistentVolumeClaimName": "postfix"}, "volumeSnapshotClassName": "` + class + `"}}`
	}
	for _, c := range []struct{ what, label string }{{"XWiki's label", xwikiLabel}, {"no label", ""}} {
		if r := e.asAccount(t, pf, snapshot("sneaky", c.label), "--namespace", ns, "create", "-f", "-"); r.OK() || !strings.Contains(r.Stderr, refusal) {
			t.Errorf("the Postfix token created a snapshot with %s:\n%s", c.what, r)
		}
	}
	// Its own: what the backup does, allowed.
	if r := e.asAccount(t, pf, snapshot("postfix-20250102-010000", postfixLabel), "--namespace", ns, "create", "-f", "-"); !r.OK() {
		t.Errorf("the Postfix token cannot create its own snapshot:\n%s", r)
	}
	if r := e.asAccount(t, pf, "", "--namespace", ns, "delete", "volumesnapshot", postfixSnap); !r.OK() {
		t.Errorf("the Postfix token cannot delete its own snapshot:\n%s", r)
	}

	// The XWiki claim's restore: that claim, no other.
	restore := s.Restore(t, xwikiStore, "csi-snapshot")
	rk := s.Kubeconfig(t, restore.ServiceAccount)
	claim := func(name string) string {
		return `{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "` + name + `"},
"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}`
	}
	claimRefusal := "odbackup: ServiceAccount " + restore.ServiceAccount + " may create"
	deadline = time.Now().Add(time.Minute)
	for {
		r := e.asAccount(t, rk, claim("postfix"), "--namespace", ns, "create", "-f", "-", "--dry-run=server")
		if !r.OK() && strings.Contains(r.Stderr, claimRefusal) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admission policy never refused XWiki's restore creating Postfix's claim:\n%s", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := e.asAccount(t, rk, claim("xwiki-data-xwiki-0"), "--namespace", ns, "create", "-f", "-", "--dry-run=server"); !r.OK() {
		t.Errorf("XWiki's restore cannot create its own claim:\n%s", r)
	}
}
