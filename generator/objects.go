package generator

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/odbackup/odbackup/schema"
)

// Paths and settings shared by every generated Pod.
const (
	toolsDir  = "/tools"
	tmpDir    = "/tmp"
	apiDir    = "/var/run/secrets/kubernetes.io/serviceaccount"
	podPath   = toolsDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	runAsUser = 65532 // no image's root, no image's own user: nothing to inherit

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

// Labels every generated object carries.
const (
	labelName      = "app.kubernetes.io/name"
	labelManagedBy = "app.kubernetes.io/managed-by"
	labelSite      = "odbackup.io/site"
	labelApp       = "odbackup.io/app"
	labelJob       = "odbackup.io/job"
	labelStore     = "odbackup.io/store"
	annotStores    = "odbackup.io/stores"
	annotStoreID   = "odbackup.io/store-id"
)

func objectLabels(site, app string) map[string]string {
	l := map[string]string{labelName: "odbackup", labelManagedBy: "odbackup", labelSite: site}
	if app != "" {
		l[labelApp] = app
	}
	return l
}

// storeLabel is a store id as a label value (at most 63 characters).
func storeLabel(id string) string { return dnsName(63, id) }

// postgresImages are the official images per major version; pg_dump must be
// at least the server's major version. The Debian variants, not Alpine:
// the backup gives pg_dump a larger output buffer with coreutils' stdbuf
// (see pgDumpScript), which Alpine's busybox lacks.
var postgresImages = map[int]string{
	13: "docker.io/library/postgres:13.22-bookworm",
	14: "docker.io/library/postgres:14.19-bookworm",
	15: "docker.io/library/postgres:15.14-bookworm",
	16: "docker.io/library/postgres:16.10-bookworm",
	17: "docker.io/library/postgres:17.6-bookworm",
	18: "docker.io/library/postgres:18.0-bookworm",
}

// containerPlan is one step's container before it becomes a corev1.Container.
type containerPlan struct {
	name, image, script string
	env                 []corev1.EnvVar
	// restic and busybox: the static binaries this container needs copied
	// into /tools; api: it talks to the Kubernetes API.
	restic, busybox, api bool
	// mounts are volumes beyond tools and tmp (a restore's target claim).
	mounts []corev1.VolumeMount
	// user, when not 0, runs the container as the image's own user (a
	// drill's scratch database server, which must find itself in the
	// image's /etc/passwd); else it runs as the pod's unprivileged user.
	user int64
}

func literal(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func fromSecret(name string, ref schema.SecretKeyRef) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.Key},
	}}
}

// resticEnv is what restic needs to open a target's repository.
func resticEnv(t *schema.Target) []corev1.EnvVar {
	env := []corev1.EnvVar{
		literal("RESTIC_REPOSITORY", t.Restic.Repository),
		fromSecret("RESTIC_PASSWORD", t.Restic.PasswordSecret),
		literal("RESTIC_CACHE_DIR", tmpDir+"/restic-cache"),
	}
	if c := t.Restic.S3Credentials; c != nil {
		env = append(env, fromSecret("AWS_ACCESS_KEY_ID", c.AccessKeyID), fromSecret("AWS_SECRET_ACCESS_KEY", c.SecretAccessKey))
	}
	if c := t.Restic.RESTCredentials; c != nil {
		env = append(env, fromSecret("RESTIC_REST_USERNAME", c.Username), fromSecret("RESTIC_REST_PASSWORD", c.Password))
	}
	return env
}

// stepContainer decides image, script and environment of one step: its
// kind's, plus restic's when the data goes there.
func (g *generation) stepContainer(st *Step) containerPlan {
	cp := kindOf(st).backupContainer(g, st)
	cp.name = st.Container
	cp.script = withRun(cp.script, st.Store.ID, st.Container)
	if st.UsesRestic() {
		cp.env = append(cp.env, resticEnv(st.Target)...)
	}
	return cp
}

// blockScalar indents scripts with spaces: YAML emitters fall back to a
// quoted one-line string for text with tabs, which nobody can review.
func blockScalar(script string) string { return strings.ReplaceAll(script, "\t", "  ") }

// restrictedContainer applies the Pod Security Standard "restricted".
func restrictedContainer(c corev1.Container) corev1.Container {
	c.SecurityContext = &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
	}
	return c
}

func podSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](runAsUser),
		RunAsGroup:     ptr.To[int64](runAsUser),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func (g *generation) resourceRequirements(r schema.Resources) corev1.ResourceRequirements {
	q := func(s string) resource.Quantity {
		v, err := resource.ParseQuantity(s)
		if err != nil {
			g.fail(fmt.Errorf("resources: %q: %w", s, err))
		}
		return v
	}
	req := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: q(r.Requests.CPU), corev1.ResourceMemory: q(r.Requests.Memory)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: q(r.Limits.Memory)},
	}
	if r.Limits.CPU != "" {
		req.Limits[corev1.ResourceCPU] = q(r.Limits.CPU)
	}
	return req
}

// backupPod builds a job's Pod: init containers copy the static binaries
// the steps need, then every step but the last runs as an init container,
// in order, and the last as the main container. A job of more than one
// step runs them as a run (see withRun): a first container starts it, a
// failing step is recorded and the next one runs, and the main container
// fails the Job naming every store that failed.
func (g *generation) backupPod(j *Job) corev1.PodSpec {
	var plans []containerPlan
	for _, st := range j.Steps {
		plans = append(plans, g.stepContainer(st))
	}
	if len(plans) > 1 {
		image := g.plan.Site.Policy.Images.Busybox
		plans = append([]containerPlan{{name: runStartContainer, image: image, script: runStartScript(j.Name)}}, plans...)
		plans = append(plans, containerPlan{name: runResultContainer, image: image, script: runResultScript(j.Name)})
	}
	return g.pod(j.Name, j.Resources, plans)
}

// The containers that start and end a run of a job of several steps.
const (
	runStartContainer  = "odbackup-start"
	runResultContainer = "odbackup-result"
)

// pod runs containers in order as the ServiceAccount account: the last as
// the main container, the others (after the init containers that copy the
// static binaries they need) as init containers.
func (g *generation) pod(account string, resources schema.Resources, plans []containerPlan) corev1.PodSpec {
	pol := g.plan.Site.Policy
	var restic, busybox, api bool
	for _, cp := range plans {
		restic, busybox, api = restic || cp.restic, busybox || cp.busybox, api || cp.api
	}
	res := g.resourceRequirements(resources)
	mounts := []corev1.VolumeMount{{Name: "tools", MountPath: toolsDir, ReadOnly: true}, {Name: "tmp", MountPath: tmpDir}}
	var inits []corev1.Container
	if restic {
		inits = append(inits, restrictedContainer(corev1.Container{
			Name: "copy-restic", Image: pol.Images.Restic,
			Command:      []string{"/bin/sh", "-c", "cp /usr/bin/restic " + toolsDir + "/restic"},
			Resources:    res,
			VolumeMounts: []corev1.VolumeMount{{Name: "tools", MountPath: toolsDir}},
		}))
	}
	if busybox {
		inits = append(inits, restrictedContainer(corev1.Container{
			Name: "copy-busybox", Image: pol.Images.Busybox,
			Command: []string{"/bin/busybox", "sh", "-c",
				"cp /bin/busybox " + toolsDir + "/busybox && " + toolsDir + "/busybox --install -s " + toolsDir},
			Resources:    res,
			VolumeMounts: []corev1.VolumeMount{{Name: "tools", MountPath: toolsDir}},
		}))
	}
	var steps []corev1.Container
	for _, cp := range plans {
		shell := "/bin/sh"
		if cp.busybox {
			shell = toolsDir + "/sh" // the kubectl image is distroless
		}
		m := slices.Clone(mounts)
		if cp.api {
			m = append(m, corev1.VolumeMount{Name: "kube-api-access", MountPath: apiDir, ReadOnly: true})
		}
		m = append(m, cp.mounts...)
		env := append([]corev1.EnvVar{literal("PATH", podPath), literal("HOME", tmpDir)}, cp.env...)
		c := restrictedContainer(corev1.Container{
			Name: cp.name, Image: cp.image,
			Command:      []string{shell, "-c", blockScalar(cp.script)},
			Env:          env,
			Resources:    res,
			VolumeMounts: m,
		})
		if cp.user != 0 {
			c.SecurityContext.RunAsUser = ptr.To(cp.user)
		}
		steps = append(steps, c)
	}
	inits = append(inits, steps[:len(steps)-1]...)
	spec := corev1.PodSpec{
		ServiceAccountName:           account,
		AutomountServiceAccountToken: ptr.To(false),
		RestartPolicy:                corev1.RestartPolicyNever,
		SecurityContext:              podSecurityContext(),
		InitContainers:               inits,
		Containers:                   steps[len(steps)-1:],
		Volumes: []corev1.Volume{
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "tools", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
	if api {
		// Only the containers that call the API mount the token; the
		// dumps next to them never see it.
		spec.Volumes = append(spec.Volumes, apiAccessVolume())
	}
	return spec
}

func apiAccessVolume() corev1.Volume {
	return corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}},
			}}},
		},
	}}}
}

func (g *generation) cronJob(name, app, schedule string, deadline int64, annotations map[string]string, pod corev1.PodSpec) *batchv1.CronJob {
	pol := g.plan.Site.Policy
	startingDeadline, deadline, err := jobDeadlines(schedule, pol.Schedule.TimeZone, deadline)
	if err != nil {
		g.fail(fmt.Errorf("CronJob %s: %w", name, err))
	}
	labels := objectLabels(pol.Site, app)
	podLabels := objectLabels(pol.Site, app)
	podLabels[labelJob] = name
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
		map[string]string{annotStores: strings.Join(ids, ",")}, g.backupPod(j))
}

func (g *generation) maintenanceCronJob(m *MaintenanceJob) *batchv1.CronJob {
	pol := g.plan.Site.Policy
	res := g.resourceRequirements(pol.Resources)
	pod := corev1.PodSpec{
		ServiceAccountName:           m.Name,
		AutomountServiceAccountToken: ptr.To(false),
		RestartPolicy:                corev1.RestartPolicyNever,
		SecurityContext:              podSecurityContext(),
		Containers: []corev1.Container{restrictedContainer(corev1.Container{
			Name: "restic", Image: pol.Images.Restic,
			Command:      []string{"/bin/sh", "-c", blockScalar(maintenanceScript(m, pol.Site, pol.Maintenance.ReadDataSubset))},
			Env:          append([]corev1.EnvVar{literal("HOME", tmpDir)}, resticEnv(&m.Target)...),
			Resources:    res,
			VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: tmpDir}},
		})},
		Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
	return g.cronJob(m.Name, "", m.Schedule, maintenanceDeadlineSeconds,
		map[string]string{"odbackup.io/target": m.TargetName}, pod)
}

// jobRules is what a job's scripts do with the Kubernetes API, and nothing
// more: named ConfigMaps and Secrets, exec into named pods, and
// VolumeSnapshots (whose names are only known at run time).
func jobRules(j *Job) []rbacv1.PolicyRule {
	var rs ruleSet
	for _, st := range j.Steps {
		kindOf(st).backupRules(st, rs.add)
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
	pol := g.plan.Site.Policy
	meta := metav1.ObjectMeta{Name: name, Namespace: pol.Namespace, Labels: objectLabels(pol.Site, app)}
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
	pol := g.plan.Site.Policy
	return &snapshotv1.VolumeSnapshotClass{
		TypeMeta:       metav1.TypeMeta{APIVersion: snapshotv1.SchemeGroupVersion.String(), Kind: "VolumeSnapshotClass"},
		ObjectMeta:     metav1.ObjectMeta{Name: pol.Snapshot.ClassName, Labels: objectLabels(pol.Site, "")},
		Driver:         pol.Snapshot.Driver,
		DeletionPolicy: snapshotv1.DeletionPolicy(pol.Snapshot.DeletionPolicy),
		Parameters:     pol.Snapshot.Parameters,
	}
}
