package generator

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"github.com/odbackup/odbackup/generator/kinds"
	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/schema"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Deadlines and retries of the generated CronJobs.
const (
	// A backup that has not started 30 minutes after its slot waits for
	// the next night rather than colliding with the morning's load.
	startingDeadlineSeconds = 1800
	// A backup job may run 6 hours, maintenance 12 (prune and check read
	// the repository). All three are maxima: jobDeadlines shortens them to
	// fit a schedule that runs more often.
	backupDeadlineSeconds      = 6 * 3600
	maintenanceDeadlineSeconds = 12 * 3600
	backoffLimit               = 1
	historyLimit               = 3
)

// stepContainer decides image, script and environment of one step: its
// kind's, plus restic's when the data goes there.
func (g *generation) stepContainer(st *Step) manifest.Container {
	cp := kinds.Of(st).BackupContainer(g.Builder, st)
	cp.Name = st.Container
	cp.Script = withRun(cp.Script, st.Store.ID, st.Container)
	if st.UsesRestic() {
		cp.Env = append(cp.Env, manifest.ResticEnv(st.Target)...)
	}
	return cp
}

// backupPod builds a job's Pod: init containers copy the static binaries
// the steps need, then every step but the last runs as an init container,
// in order, and the last as the main container. A job of more than one
// step runs them as a run (see withRun): a first container starts it, a
// failing step is recorded and the next one runs, and the main container
// fails the Job naming every store that failed.
func (g *generation) backupPod(j *Job) corev1.PodSpec {
	var plans []manifest.Container
	for _, st := range j.Steps {
		plans = append(plans, g.stepContainer(st))
	}
	if len(plans) > 1 {
		image := g.Plan.Site.Policy.Images.Busybox
		plans = append([]manifest.Container{{Name: manifest.RunStartContainer, Image: image, Script: runStartScript(j.Name)}}, plans...)
		plans = append(plans, manifest.Container{Name: manifest.RunResultContainer, Image: image, Script: runResultScript(j.Name)})
	}
	return g.Pod(j.Name, j.Resources, plans)
}

func (g *generation) cronJob(name, app, schedule string, deadline int64, annotations map[string]string, pod corev1.PodSpec) *batchv1.CronJob {
	pol := g.Plan.Site.Policy
	startingDeadline, deadline, err := jobDeadlines(schedule, pol.Schedule.TimeZone, deadline)
	if err != nil {
		g.Fail(fmt.Errorf("CronJob %s: %w", name, err))
	}
	labels := manifest.ObjectLabels(pol.Site, app)
	podLabels := manifest.ObjectLabels(pol.Site, app)
	podLabels[manifest.LabelJob] = name
	return &batchv1.CronJob{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: pol.Namespace, Labels: labels, Annotations: annotations,
		},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			TimeZone:                   ptr.To(pol.Schedule.TimeZone),
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    ptr.To(startingDeadline),
			SuccessfulJobsHistoryLimit: ptr.To[int32](historyLimit),
			FailedJobsHistoryLimit:     ptr.To[int32](historyLimit),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: batchv1.JobSpec{
					BackoffLimit:          ptr.To[int32](backoffLimit),
					ActiveDeadlineSeconds: ptr.To(deadline),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
						Spec:       pod,
					},
				},
			},
		},
	}
}

func (g *generation) backupCronJob(j *Job) *batchv1.CronJob {
	var ids []string
	for _, st := range j.Steps {
		ids = append(ids, st.Store.ID)
	}
	ids = slices.Compact(ids)
	return g.cronJob(j.Name, j.App.ID, j.Schedule, backupDeadlineSeconds,
		map[string]string{manifest.AnnotStores: strings.Join(ids, ",")}, g.backupPod(j))
}

func (g *generation) maintenanceCronJob(m *MaintenanceJob) *batchv1.CronJob {
	pol := g.Plan.Site.Policy
	// The maintenance deletes: it opens the repository with the target's
	// maintenance credentials where it has some (schema.Target.ForMaintenance).
	t := m.Target.ForMaintenance()
	pod := g.resticPod(m.Name, maintenanceScript(m, pol.Site, pol.Maintenance.ReadDataSubset), &t)
	return g.cronJob(m.Name, "", m.Schedule, maintenanceDeadlineSeconds,
		map[string]string{annotTarget: m.TargetName}, pod)
}

// annotTarget names the target of a maintenance CronJob and of the Job that
// creates its repository.
const annotTarget = "odbackup.io/target"

// resticPod runs one script in the restic image with the target's
// repository environment, as the ServiceAccount account: the maintenance
// and the creation of a repository, both with the target as
// schema.Target.ForMaintenance gives it.
func (g *generation) resticPod(account, script string, t *schema.Target) corev1.PodSpec {
	pol := g.Plan.Site.Policy
	return corev1.PodSpec{
		ServiceAccountName:           account,
		AutomountServiceAccountToken: ptr.To(false),
		RestartPolicy:                corev1.RestartPolicyNever,
		SecurityContext:              manifest.PodSecurityContext(),
		Containers: []corev1.Container{manifest.RestrictedContainer(corev1.Container{
			Name: "restic", Image: pol.Images.Restic,
			Command:      []string{"/bin/sh", "-c", manifest.BlockScalar(script)},
			Env:          append([]corev1.EnvVar{manifest.Literal("HOME", manifest.TmpDir)}, manifest.ResticEnv(t)...),
			Resources:    g.Resources(pol.Resources),
			VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: manifest.TmpDir}},
		})},
		Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
}

// jobRules is what a job's scripts do with the Kubernetes API, and nothing
// more: named ConfigMaps and Secrets, exec into named pods, and
// VolumeSnapshots (whose names are only known at run time).
func jobRules(j *Job) []rbacv1.PolicyRule {
	var rs ruleSet
	for _, st := range j.Steps {
		kinds.Of(st).BackupRules(st, rs.add)
	}
	return rs.rules()
}

// ruleSet gathers what a job's steps ask of the API into as few rules as
// say exactly that: verbs on every object of a resource in one rule, and
// verbs on named objects in one rule per set of verbs. A verb granted on
// every object is never narrowed to names because another step names one.
type ruleSet struct {
	every map[groupResource]map[string]bool
	named map[groupResource]map[string][]string // verbs (joined) → names
}

type groupResource struct{ group, resource string }

func (rs *ruleSet) add(group, resource string, verbs []string, name string) {
	gr := groupResource{group, resource}
	if name == "" {
		if rs.every == nil {
			rs.every = map[groupResource]map[string]bool{}
		}
		if rs.every[gr] == nil {
			rs.every[gr] = map[string]bool{}
		}
		for _, v := range verbs {
			rs.every[gr][v] = true
		}
		return
	}
	if rs.named == nil {
		rs.named = map[groupResource]map[string][]string{}
	}
	if rs.named[gr] == nil {
		rs.named[gr] = map[string][]string{}
	}
	k := strings.Join(verbs, ",")
	rs.named[gr][k] = append(rs.named[gr][k], name)
}

func (rs *ruleSet) rules() []rbacv1.PolicyRule {
	var resources []groupResource
	for gr := range rs.every {
		resources = append(resources, gr)
	}
	for gr := range rs.named {
		if rs.every[gr] == nil {
			resources = append(resources, gr)
		}
	}
	slices.SortFunc(resources, func(a, b groupResource) int {
		return strings.Compare(a.group+"/"+a.resource, b.group+"/"+b.resource)
	})
	var rules []rbacv1.PolicyRule
	for _, gr := range resources {
		if every := rs.every[gr]; len(every) > 0 {
			rules = append(rules, rbacv1.PolicyRule{
				APIGroups: []string{gr.group}, Resources: []string{gr.resource},
				Verbs: slices.Sorted(maps.Keys(every)),
			})
		}
		for _, k := range slices.Sorted(maps.Keys(rs.named[gr])) {
			var verbs []string
			for _, v := range strings.Split(k, ",") {
				if !rs.every[gr][v] {
					verbs = append(verbs, v)
				}
			}
			if len(verbs) == 0 {
				continue
			}
			rules = append(rules, rbacv1.PolicyRule{
				APIGroups: []string{gr.group}, Resources: []string{gr.resource},
				Verbs: verbs, ResourceNames: slices.Compact(slices.Sorted(slices.Values(rs.named[gr][k]))),
			})
		}
	}
	return rules
}

// rbacObjects are a job's ServiceAccount and, when its scripts use the
// API, a Role with exactly those rules and its RoleBinding.
func (g *generation) rbacObjects(name, app string, rules []rbacv1.PolicyRule) []any {
	pol := g.Plan.Site.Policy
	meta := metav1.ObjectMeta{Name: name, Namespace: pol.Namespace, Labels: manifest.ObjectLabels(pol.Site, app)}
	objs := []any{&corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   meta,
		AutomountServiceAccountToken: ptr.To(false),
	}}
	if len(rules) == 0 {
		return objs
	}
	objs = append(objs,
		&rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta, Rules: rules},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta,
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: pol.Namespace}},
		})
	return objs
}

func (g *generation) snapshotClass() *snapshotv1.VolumeSnapshotClass {
	pol := g.Plan.Site.Policy
	return &snapshotv1.VolumeSnapshotClass{
		TypeMeta:       metav1.TypeMeta{APIVersion: snapshotv1.SchemeGroupVersion.String(), Kind: "VolumeSnapshotClass"},
		ObjectMeta:     metav1.ObjectMeta{Name: pol.Snapshot.ClassName, Labels: manifest.ObjectLabels(pol.Site, "")},
		Driver:         pol.Snapshot.Driver,
		DeletionPolicy: snapshotv1.DeletionPolicy(pol.Snapshot.DeletionPolicy),
		Parameters:     pol.Snapshot.Parameters,
	}
}
