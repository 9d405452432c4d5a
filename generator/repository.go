package generator

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/shell"
)

// A target's restic repository is created by a Job of its own, applied
// once by hand before the first backup (runbooks/README.md, step 1), never
// by the backups: see shell.RepositoryInitFile for why. Like the restore
// and pre-upgrade Jobs it is not in the kustomization (a completed Job is
// immutable, and GitOps would fight over it). The file holds the Job and
// its own ServiceAccount, which has no rights in the cluster: one kubectl
// apply -f creates both, one kubectl delete -f removes both.
const (
	repositoryInitDeadlineSeconds = 1800
	repositoryInitBackoffLimit    = 2
)

// repositoryInitJob is the Job that creates a maintenance job's target's
// repository.
func (g *generation) repositoryInitJob(m *MaintenanceJob) *batchv1.Job {
	pol := g.Plan.Site.Policy
	labels := manifest.ObjectLabels(pol.Site, "")
	podLabels := manifest.ObjectLabels(pol.Site, "")
	name := shell.RepositoryInitJob(m.TargetName)
	podLabels[manifest.LabelJob] = name
	// restic init creates the bucket of an s3: repository when it is
	// missing, a right the backups' key needs not have: the maintenance's
	// credentials, where the target has some, create the repository.
	t := m.Target.ForMaintenance()
	pod := g.resticPod(name, shell.ResticInitScript(m.TargetName), &t)
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: pol.Namespace, Labels: labels,
			Annotations: map[string]string{annotTarget: m.TargetName},
		},
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To[int32](repositoryInitBackoffLimit),
			ActiveDeadlineSeconds: ptr.To[int64](repositoryInitDeadlineSeconds),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec:       pod,
			},
		},
	}
}

// addRepositoryInit writes repository/<target>.yaml for every target a
// backup writes to with restic.
func (g *generation) addRepositoryInit(tree Tree) error {
	for _, m := range g.Plan.Maintenance {
		objs := append(g.rbacObjects(shell.RepositoryInitJob(m.TargetName), "", nil), g.repositoryInitJob(m))
		if err := tree.Add(shell.RepositoryInitFile(m.TargetName), g.YAML(objs...)); err != nil {
			return err
		}
	}
	return g.Err()
}
