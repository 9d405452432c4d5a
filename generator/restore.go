package generator

import (
	"slices"
	"strings"

	"github.com/odbackup/odbackup/generator/kinds"
	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/runbook"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// A restore Job may run half a day: a bucket of several TB or a large
// database restores slowly, and a restore killed half-way is worse than
// a slow one. It never retries on its own: a failed restore needs a human
// to read its log before anything runs again.
const (
	restoreDeadlineSeconds = 12 * 3600
	restoreBackoffLimit    = 0
)

// workloadResource is the API resource of a workload kind.
func workloadResource(kind string) (group, resource string) {
	switch kind {
	case "CronJob":
		return "batch", "cronjobs"
	default:
		return "apps", strings.ToLower(kind) + "s"
	}
}

// restoreObjects are the ServiceAccount, Role and RoleBinding of a restore
// and its Job, in the order kubectl apply needs them.
func (g *generation) restoreObjects(r *kinds.RestoreJob) []any {
	pol := g.Plan.Site.Policy
	st := r.Step
	app := st.Store.App
	pod := g.Pod(r.Name, st.Job.Resources, []manifest.Container{kinds.RestoreContainer(g.Builder, r)})
	kinds.Of(st).RestorePod(st, &pod)
	labels := manifest.ObjectLabels(pol.Site, app)
	labels[manifest.LabelStore] = manifest.StoreLabel(st.Store.ID)
	podLabels := manifest.ObjectLabels(pol.Site, app)
	podLabels[manifest.LabelJob] = r.Name
	job := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: r.Name, Namespace: pol.Namespace, Labels: labels,
			Annotations: map[string]string{manifest.AnnotStoreID: st.Store.ID, annotMethod: string(st.Method)},
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
func restoreRules(r *kinds.RestoreJob) []rbacv1.PolicyRule {
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
	kinds.Of(st).RestoreRules(r, named, stopped)
	slices.SortStableFunc(rules, func(a, b rbacv1.PolicyRule) int {
		return strings.Compare(a.APIGroups[0]+"/"+a.Resources[0], b.APIGroups[0]+"/"+b.Resources[0])
	})
	return rules
}

// addRestore adds every restore Job and the runbooks to the tree. Neither
// goes into the kustomization.
func (g *generation) addRestore(tree Tree) error {
	restores := kinds.Restores(g.Plan)
	for _, r := range restores {
		if err := tree.Add(r.Path, g.YAML(g.restoreObjects(r)...)); err != nil {
			return err
		}
	}
	if err := g.Err(); err != nil {
		return err
	}
	for _, p := range runbook.Pages(g.Plan, restores) {
		if err := tree.Add(p.Path, p.Data); err != nil {
			return err
		}
	}
	return nil
}
