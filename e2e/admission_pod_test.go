package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAdmissionCopyPod proves, with the token of XWiki's backup account,
// that the right to create its off-site copy pod is the right to create
// that pod only: RBAC cannot narrow a pod's create beyond its name, and a
// pod of that name could read the maintenance credentials, mount another
// claim or run as a ServiceAccount with more rights. The generated pod is
// admitted (server-side dry run); each of those variants is refused.
func TestAdmissionCopyPod(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	s := e.BuildSite(t, SiteSpec{Apps: []string{"xwiki"}})
	s.Apply(t)
	ns := s.Namespace
	step := s.Offsite(t, offsiteStore)
	m := regexp.MustCompile(`(?s)create --filename=- <<'EOF'\n(apiVersion: v1\nkind: Pod\n.*?)\nEOF\n`).FindStringSubmatch(step.Script())
	if m == nil {
		t.Fatalf("no copy pod manifest in the step's script:\n%s", step.Script())
	}
	pod := m[1]
	kc := s.Kubeconfig(t, step.ServiceAccount)
	refusal := "odbackup: ServiceAccount " + step.ServiceAccount + " may create only pods that run as"
	replace := func(t *testing.T, old, new string) string {
		t.Helper()
		if !strings.Contains(pod, old) {
			t.Fatalf("the copy pod has no %q:\n%s", old, pod)
		}
		return strings.Replace(pod, old, new, 1)
	}
	sneaky := map[string]string{
		"reads another Secret":           replace(t, "name: odbackup-restic", "name: odbackup-maintenance"),
		"mounts the live claim":          regexp.MustCompile(`claimName: odbackup-clone-[a-z0-9.-]+`).ReplaceAllString(pod, "claimName: xwiki-data-xwiki-0"),
		"runs as another ServiceAccount": replace(t, "serviceAccountName: "+step.ServiceAccount, "serviceAccountName: default"),
		"runs another image":             replace(t, "image: docker.io/restic/restic:", "image: docker.io/library/alpine:"),
		"mounts a Secret as a volume":    replace(t, "- emptyDir: {}", "- secret: {secretName: odbackup-maintenance}"),
	}
	// A new policy is enforced a moment after it is created.
	deadline := time.Now().Add(time.Minute)
	for {
		r := e.asAccount(t, kc, sneaky["reads another Secret"], "--namespace", ns, "create", "-f", "-", "--dry-run=server")
		if !r.OK() && strings.Contains(r.Stderr, refusal) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admission policy never refused a copy pod reading another Secret:\n%s", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for what, manifest := range sneaky {
		if r := e.asAccount(t, kc, manifest, "--namespace", ns, "create", "-f", "-", "--dry-run=server"); r.OK() || !strings.Contains(r.Stderr, refusal) {
			t.Errorf("the backup token created a copy pod that %s:\n%s\n%s", what, r, manifest)
		}
	}
	if r := e.asAccount(t, kc, pod, "--namespace", ns, "create", "-f", "-", "--dry-run=server"); !r.OK() {
		t.Errorf("the generated copy pod is refused:\n%s\n%s", r, pod)
	}
}
