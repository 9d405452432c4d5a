package generator

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
)

// objectExport streams kubectl get -o yaml of a ConfigMap or Secret into
// restic; a restore replaces the object with the backup.
type objectExport struct{ resticKind }

// methodObjectExport names the kind.
const methodObjectExport plan.Method = "kubectl-export"

func (objectExport) Method() plan.Method { return methodObjectExport }

func (objectExport) Backs(st *schema.SiteStore) bool {
	return st.Kind == "configmap" || st.Kind == "secret"
}

// GroupOrder: small state first in a consistency group.
func (objectExport) GroupOrder() int { return 0 }

func (objectExport) backupContainer(g *generation, st *Step) containerPlan {
	pol := g.plan.Site.Policy
	return containerPlan{image: pol.Images.Kubectl, busybox: true, restic: true, api: true, script: objectExportScript(st), env: []corev1.EnvVar{literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (objectExport) backupRules(st *Step, add backupRule) {
	add("", st.Store.Kind+"s", []string{"get"}, st.Store.Connection.Name)
}

func (objectExport) restoreContainer(g *generation, _ *Step) containerPlan {
	pol := g.plan.Site.Policy
	return containerPlan{image: pol.Images.Kubectl, busybox: true, restic: true, api: true, env: []corev1.EnvVar{literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (objectExport) restoreScript(r *RestoreJob) string { return objectRestoreScript(r) }

func (objectExport) restoreRules(r *RestoreJob, named restoreRule, _ func()) {
	st := r.Step
	// get to see whether it exists, update to replace it with the
	// backup; create only when it is gone.
	named("", st.Store.Kind+"s", []string{"get", "update"}, st.Store.Connection.Name)
	named("", st.Store.Kind+"s", []string{"create"})
}

func (objectExport) restoreTarget(r *RestoreJob) (noun, name, kind string) {
	st := r.Step
	if st.Store.Kind == "secret" {
		return "Secret", st.Store.Connection.Name, "Kubernetes object"
	}
	return "ConfigMap", st.Store.Connection.Name, "Kubernetes object"
}

func (objectExport) runbookSection(rb *runbooks, m *markdown, app *schema.SiteApp, r *RestoreJob) {
	rb.objectSection(m, app, r)
}

func (objectExport) storeCheck(rb *runbooks, r *RestoreJob) string {
	st := r.Step
	return fmt.Sprintf("%s: the object is back: %s", code(st.Store.ID), code(rb.kubectl(fmt.Sprintf("get %s %s --output=yaml", st.Store.Kind, st.Store.Connection.Name))))
}

func objectExportScript(st *Step) string {
	kind := st.Store.Kind
	name := st.Store.Connection.Name
	b := resticScript(fmt.Sprintf("odbackup: %s %s (%s)", kind, name, st.Store.ID))
	b.WriteString(resticBackup(st, kind+"-"+name+".yaml", nil,
		fmt.Sprintf(`kubectl --namespace="$ODBACKUP_NAMESPACE" get %s %s --output=yaml`, kind, shq(name))))
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
	b := resticRestoreScript(r, kind+" "+name, false)
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
`, kind, shq(name), shq("store="+st.Store.ID), shq(kind+"-"+name+".yaml"))
	return b.String()
}

func (rb *runbooks) objectSection(m *markdown, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	m.para("What the Job does: it streams %s of the chosen restic snapshot (the object as %s printed it) into %s, after removing what the API server assigns (uid, resourceVersion, creation time) and the namespace: %s replaces the live object as a whole, or %s makes it again if it is gone. Keys added since the backup are gone afterwards; that is the point.",
		code(st.Store.Kind+"-"+c.Name+".yaml"), code("kubectl get -o yaml"), code("kubectl"), code("replace"), code("create"))
	m.para("Why this way: the object goes back exactly as it was, labels and annotations included, and never touches a disk on the way.")
	if st.Store.ID == "migrations/configmap/migrations-status" {
		m.para("%s records which of openDesk's one-shot migrations have run and the release last migrated to. Restore it before any %s: with a wrong state, the next upgrade runs migrations again or skips them.", code(c.Name), code("helmfile apply"))
	}
	rb.applyCommands(m, r)
}
