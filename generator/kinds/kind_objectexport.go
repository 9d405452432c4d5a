package kinds

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// objectExport streams kubectl get -o yaml of a ConfigMap or Secret into
// restic; a restore replaces the object with the backup.
type objectExport struct{ Restic }

// methodObjectExport names the kind.
const methodObjectExport plan.Method = "kubectl-export"

func (objectExport) Method() plan.Method { return methodObjectExport }

func (objectExport) Backs(st *schema.SiteStore) bool {
	return st.Kind == "configmap" || st.Kind == "secret"
}

// GroupOrder: small state first in a consistency group.
func (objectExport) GroupOrder() int { return 0 }

func (objectExport) BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, Restic: true, API: true, Script: objectExportScript(st), Env: []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (objectExport) BackupRules(st *plan.Step, add BackupRule) {
	add("", st.Store.Kind+"s", []string{"get"}, st.Store.Connection.Name)
}

func (objectExport) RestoreContainer(g *manifest.Builder, _ *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, Restic: true, API: true, Env: []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (objectExport) RestoreScript(_ *manifest.Builder, r *RestoreJob) string {
	return objectRestoreScript(r)
}

func (objectExport) RestoreRules(r *RestoreJob, named RestoreRule, _ func()) {
	st := r.Step
	// get to see whether it exists, update to replace it with the
	// backup; create only when it is gone.
	named("", st.Store.Kind+"s", []string{"get", "update"}, st.Store.Connection.Name)
	named("", st.Store.Kind+"s", []string{"create"})
}

func (objectExport) RestoreTarget(r *RestoreJob) (noun, name, kind string) {
	st := r.Step
	if st.Store.Kind == "secret" {
		return "Secret", st.Store.Connection.Name, "Kubernetes object"
	}
	return "ConfigMap", st.Store.Connection.Name, "Kubernetes object"
}

func (objectExport) RunbookSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob) {
	objectSection(rb, m, app, r)
}

func (objectExport) StoreCheck(rb Runbook, r *RestoreJob) string {
	st := r.Step
	return fmt.Sprintf("%s: the object is back: %s", markdown.Code(st.Store.ID), markdown.Code(rb.Kubectl(fmt.Sprintf("get %s %s --output=yaml", st.Store.Kind, st.Store.Connection.Name))))
}

func objectExportScript(st *plan.Step) string {
	kind := st.Store.Kind
	name := st.Store.Connection.Name
	b := shell.ResticScript(st, fmt.Sprintf("odbackup: %s %s (%s)", kind, name, st.Store.ID))
	b.WriteString(shell.ResticBackup(st, kind+"-"+name+".yaml", nil,
		fmt.Sprintf(`kubectl --namespace="$ODBACKUP_NAMESPACE" get %s %s --output=yaml`, kind, shell.Quote(name))))
	return b.String()
}

// objectRestoreScript puts a ConfigMap or Secret back exactly as backed up:
// metadata the API server assigns (uid, resourceVersion, ...) and the
// namespace are stripped, then the object is replaced (or created, if it
// is gone). The object streams from restic into kubectl; it never touches
// a disk, which matters for a Secret.
func objectRestoreScript(r *RestoreJob) string {
	st := r.Step
	kind, name := st.Store.Kind, st.Store.Connection.Name
	b := shell.ResticRestoreScript(r.Step, kind+" "+name, false)
	fmt.Fprintf(b, `if kubectl --namespace="$ODBACKUP_NAMESPACE" get %[1]s %[2]s --output=name >/dev/null 2>&1; then
	verb=replace
else
	verb=create
fi
put_object() {
	awk '/^[^ ]/ { meta = ($0 == "metadata:") }
		meta && /^  (creationTimestamp|generation|namespace|resourceVersion|selfLink|uid):/ { next }
		{ print }' |
		kubectl --namespace="$ODBACKUP_NAMESPACE" "$verb" --filename=-
}
echo "odbackup: restoring %[1]s %[2]s ($verb)"
restore_stream %[3]s "$snapshot" %[4]s put_object
echo "odbackup: %[1]s %[2]s restored"
`, kind, shell.Quote(name), shell.Quote("store="+st.Store.ID), shell.Quote(kind+"-"+name+".yaml"))
	return b.String()
}

func objectSection(rb Runbook, m *markdown.Doc, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	m.Para("What the Job does: it streams %s of the chosen restic snapshot (the object as %s printed it) into %s, after removing what the API server assigns (uid, resourceVersion, creation time) and the namespace: %s replaces the live object as a whole, or %s makes it again if it is gone. Keys added since the backup are gone afterwards; that is the point.",
		markdown.Code(st.Store.Kind+"-"+c.Name+".yaml"), markdown.Code("kubectl get -o yaml"), markdown.Code("kubectl"), markdown.Code("replace"), markdown.Code("create"))
	m.Para("Why this way: the object goes back exactly as it was, labels and annotations included, and never touches a disk on the way.")
	if st.Store.ID == "migrations/configmap/migrations-status" {
		m.Para("%s records which of openDesk's one-shot migrations have run and the release last migrated to. Restore it before any %s: with a wrong state, the next upgrade runs migrations again or skips them.", markdown.Code(c.Name), markdown.Code("helmfile apply"))
	}
	rb.ApplyCommands(m, r)
}
