package generator

import (
	"path"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
)

// A restore Job may run half a day: a bucket of several TB or a large
// database restores slowly, and a restore killed half-way is worse than
// a slow one. It never retries on its own: a failed restore needs a human
// to read its log before anything runs again.
const (
	restoreDeadlineSeconds = 12 * 3600
	restoreBackoffLimit    = 0
)

// restoreMountDir is where a restore Job mounts a claim it writes to.
const restoreMountDir = "/data"

// RestoreJob is the ready-to-apply Job that restores what one step backed
// up. Its file, restore/<app>/<name>.yaml, holds the Job with its own
// ServiceAccount, Role and RoleBinding, so one `kubectl apply -f` grants
// exactly the rights the restore needs and one `kubectl delete -f` takes
// them away again. The files are not in the kustomization: GitOps must
// never run a restore.
type RestoreJob struct {
	// Name names the Job, its ServiceAccount, Role and RoleBinding.
	Name string
	// Path is the file's path in the site's tree.
	Path string
	Step *Step
	// Stopped is the workload that must have 0 replicas while the Job
	// runs: the one mounting a restored claim, or the Redis server. Nil
	// when the Job needs no such check.
	Stopped *schema.Workload
	// safety is the VolumeSnapshot a claim restore takes of the live
	// claim before it deletes it; set while the Job is emitted.
	safety *safetySnapshot
}

// App is the id of the app whose store the Job restores.
func (r *RestoreJob) App() string { return r.Step.Store.App }

// restoreJobs returns one restore Job per backup step, in the order of the
// steps. Names are unique within the site: a clash (two apps with a store
// of the same kind and identifier) falls back to a name with the app in it.
func restoreJobs(p *Plan) []*RestoreJob {
	var out []*RestoreJob
	taken := map[string]bool{}
	for _, st := range p.Steps {
		base := restoreBase(st)
		name := "odbackup-restore-" + base
		if len(name) > 63 || taken[name] {
			name = dnsName(63, "odbackup-restore", st.Store.App, base)
		}
		taken[name] = true
		out = append(out, &RestoreJob{
			Name:    name,
			Path:    path.Join("restore", st.Store.App, strings.TrimPrefix(name, "odbackup-restore-")+".yaml"),
			Step:    st,
			Stopped: stoppedWorkload(p, st),
		})
	}
	return out
}

// restoreBase names what a restore Job restores in words a reader
// recognises: "postgresql-keycloak-extensions", "mariadb-primarydb",
// "pvc-postfix", or for a logical export its file, "export-ldap-primary".
func restoreBase(st *Step) string { return kindOf(st).restoreBase(st) }

// labelWords lowercases s and turns every run of other characters than
// letters and digits into one dash.
func labelWords(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	return plan.CollapseDashes(b.String())
}

// stoppedWorkload is the workload a restore must find at 0 replicas.
func stoppedWorkload(p *Plan, st *Step) *schema.Workload { return kindOf(st).stoppedWorkload(p, st) }

// findWorkload looks a workload up by name: in the store's own app first,
// then in every deployed app. Without a match, a known kind still makes a
// workload; otherwise there is none.
func findWorkload(p *Plan, appID, name, kind string) *schema.Workload {
	if w := p.Site.Workload(appID, name); w != nil {
		return w
	}
	if kind == "" {
		return nil
	}
	return &schema.Workload{Kind: kind, Name: name, Replicas: 1, Confidence: "inferred", Source: "the store's connection"}
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// workloadRef is "kind/name" as kubectl takes it: "statefulset/redis-master".
func workloadRef(w schema.Workload) string { return strings.ToLower(w.Kind) + "/" + w.Name }

// workloadResource is the API resource of a workload kind.
func workloadResource(kind string) (group, resource string) {
	switch kind {
	case "CronJob":
		return "batch", "cronjobs"
	default:
		return "apps", strings.ToLower(kind) + "s"
	}
}

// restoreContainer decides image, script and environment of a restore.
// The environment follows the backup's: a restore script reaches the same
// servers through the same variables, and ODBACKUP_SNAPSHOT says which
// backup to restore.
func (g *generation) restoreContainer(r *RestoreJob) containerPlan {
	st := r.Step
	if st.Kind.Traits().VolumeSnapshots {
		r.safety = g.safetySnapshot(st)
	}
	cp := kindOf(st).restoreContainer(g, st)
	cp.name = "restore"
	cp.script = kindOf(st).restoreScript(r)
	// A restore Job applied as it is only lists what it could restore:
	// `kubectl apply -R -f out/<site>` by habit must not overwrite a
	// database. Restoring takes naming the backup (latest or an ID).
	cp.env = append([]corev1.EnvVar{literal("ODBACKUP_SNAPSHOT", "list")}, cp.env...)
	if st.UsesRestic() {
		cp.env = append(cp.env, resticEnv(st.Target)...)
	}
	return cp
}

// restoreObjects are the ServiceAccount, Role and RoleBinding of a restore
// and its Job, in the order kubectl apply needs them.
func (g *generation) restoreObjects(r *RestoreJob) []any {
	pol := g.plan.Site.Policy
	st := r.Step
	app := st.Store.App
	pod := g.pod(r.Name, st.Job.Resources, []containerPlan{g.restoreContainer(r)})
	kindOf(st).restorePod(st, &pod)
	labels := objectLabels(pol.Site, app)
	labels[labelStore] = storeLabel(st.Store.ID)
	podLabels := objectLabels(pol.Site, app)
	podLabels[labelJob] = r.Name
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: r.Name, Namespace: pol.Namespace, Labels: labels,
			Annotations: map[string]string{annotStoreID: st.Store.ID, annotMethod: string(st.Method)},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To[int32](restoreBackoffLimit),
			ActiveDeadlineSeconds: ptr.To[int64](restoreDeadlineSeconds),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec:       pod,
			},
		},
	}
	return append(g.rbacObjects(r.Name, app, restoreRules(r)), job)
}

// annotMethod records on a restore Job how its store was backed up.
const annotMethod = "odbackup.io/method"

// restoreRules is what a restore script does with the Kubernetes API, and
// nothing more. Names are given wherever the API can check them; it cannot
// for create (the object has no name yet when RBAC decides) and for
// listing the VolumeSnapshots of a store by label.
func restoreRules(r *RestoreJob) []rbacv1.PolicyRule {
	st := r.Step
	var rules []rbacv1.PolicyRule
	named := func(group, resource string, verbs []string, names ...string) {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{group}, Resources: []string{resource}, Verbs: verbs, ResourceNames: names})
	}
	stopped := func() {
		if w := r.Stopped; w != nil {
			group, resource := workloadResource(w.Kind)
			named(group, resource, []string{"get"}, w.Name)
		}
	}
	kindOf(st).restoreRules(r, named, stopped)
	slices.SortStableFunc(rules, func(a, b rbacv1.PolicyRule) int {
		return strings.Compare(a.APIGroups[0]+"/"+a.Resources[0], b.APIGroups[0]+"/"+b.Resources[0])
	})
	return rules
}

// addRestore adds every restore Job and the runbooks to the tree. Neither
// goes into the kustomization.
func (g *generation) addRestore(tree Tree) error {
	restores := restoreJobs(g.plan)
	for _, r := range restores {
		if err := tree.Add(r.Path, g.yaml(g.restoreObjects(r)...)); err != nil {
			return err
		}
	}
	if g.err != nil {
		return g.err
	}
	for _, f := range newRunbooks(g.plan, restores).files() {
		if err := tree.Add(f.path, f.data); err != nil {
			return err
		}
	}
	return nil
}
