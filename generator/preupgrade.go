package generator

import (
	"path"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/shell"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pre-upgrade backups: openDesk's upgrades change database schemas and run
// one-shot migrations, so rolling one back means restoring. Right before an
// upgrade, the operator runs one Job per backup CronJob, with the CronJob's
// own pod, in pre-upgrade/ (not in the kustomization, so nothing runs them
// by accident). Their restic snapshots carry the tags pre-upgrade and
// from=<release>; the maintenance keeps the newest pre-upgrade snapshot of
// every store until the next upgrade's replaces it (maintenanceScript).
// Their names and tags: manifest.PreUpgradeJobName, manifest.LabelPreUpgrade,
// shell.PreUpgradeTag, shell.EnvPreUpgrade.
// preUpgradeJob is a backup CronJob's Job, run once by hand: the same pod,
// deadlines and retries, with every container told that it backs up before
// an upgrade from the site's release.
func (g *generation) preUpgradeJob(j *Job) *batchv1.Job {
	cj := g.backupCronJob(j)
	release := g.Plan.Site.Policy.Release
	spec := cj.Spec.JobTemplate.Spec
	labels := map[string]string{}
	for k, v := range spec.Template.Labels {
		labels[k] = v
	}
	labels[manifest.LabelPreUpgrade] = "true"
	spec.Template.Labels = labels
	pod := &spec.Template.Spec
	tag := corev1.EnvVar{Name: shell.EnvPreUpgrade, Value: release}
	for i := range pod.InitContainers {
		pod.InitContainers[i].Env = append(pod.InitContainers[i].Env, tag)
	}
	for i := range pod.Containers {
		pod.Containers[i].Env = append(pod.Containers[i].Env, tag)
	}
	annotations := map[string]string{}
	for k, v := range cj.Annotations {
		annotations[k] = v
	}
	annotations["odbackup.io/release"] = release
	annotations["odbackup.io/cronjob"] = cj.Name
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: manifest.PreUpgradeJobName(j), Namespace: cj.Namespace, Labels: labels, Annotations: annotations,
		},
		Spec: spec,
	}
}

// addPreUpgrade writes pre-upgrade/<job>.yaml for every backup CronJob.
func (g *generation) addPreUpgrade(tree Tree) error {
	for _, j := range g.Plan.Jobs {
		if err := tree.Add(path.Join("pre-upgrade", manifest.PreUpgradeJobName(j)+".yaml"), g.YAML(g.preUpgradeJob(j))); err != nil {
			return err
		}
	}
	return g.Err()
}
