// Package manifest owns the Kubernetes objects that every generated Job
// shares, whatever it backs up or restores: the labels, the restricted Pod
// that runs a list of containers in order with the static tools they need
// copied in, environment from literals and Secrets, resource requirements,
// and the YAML encoding of objects. Kinds (generator/kinds) and the
// generator build their objects from these pieces.
//
// It is pure: no I/O, no clock. A Builder remembers the first error (a
// bad quantity, an object that does not encode) so that callers check once.
package manifest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	goyaml "go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
)

// Builder builds the objects of one plan and keeps the first error.
type Builder struct {
	Plan *plan.Plan
	err  error
}

// Err is the first error the Builder met, or nil.
func (g *Builder) Err() error { return g.err }

// Paths and settings shared by every generated Pod.
const (
	ToolsDir  = "/tools"
	TmpDir    = "/tmp"
	APIDir    = "/var/run/secrets/kubernetes.io/serviceaccount"
	PodPath   = ToolsDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	RunAsUser = 65532 // no image's root, no image's own user: nothing to inherit

)

// Labels every generated object carries.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelSite      = "odbackup.io/site"
	LabelApp       = "odbackup.io/app"
	LabelJob       = "odbackup.io/job"
	LabelStore     = "odbackup.io/store"
	AnnotStores    = "odbackup.io/stores"
	AnnotStoreID   = "odbackup.io/store-id"
)

// ObjectLabels are the labels of every object odbackup generates for a
// site, and for an app when app is not "".
func ObjectLabels(site, app string) map[string]string {
	l := map[string]string{LabelName: "odbackup", LabelManagedBy: "odbackup", LabelSite: site}
	if app != "" {
		l[LabelApp] = app
	}
	return l
}

// StoreSelector selects a step's VolumeSnapshots (and every object of its
// store) by label.
func StoreSelector(st *plan.Step) string { return LabelStore + "=" + StoreLabel(st.Store.ID) }

// StoreLabel is a store id as a label value (at most 63 characters).
func StoreLabel(id string) string { return plan.DNSName(63, id) }

// Container is one container of a generated Pod before it becomes a
// corev1.Container: a step of a backup, a restore, a drill.
type Container struct {
	Name, Image, Script string
	Env                 []corev1.EnvVar
	// Restic and Busybox: the static binaries this container needs copied
	// into /tools; API: it talks to the Kubernetes API.
	Restic, Busybox, API bool
	// Mounts are volumes beyond tools and tmp (a restore's target claim).
	Mounts []corev1.VolumeMount
	// User, when not 0, runs the container as the image's own user (a
	// drill's scratch database server, which must find itself in the
	// image's /etc/passwd); else it runs as the pod's unprivileged user.
	User int64
}

// Literal is an environment variable with a literal value.
func Literal(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

// FromSecret is an environment variable read from a Secret's key.
func FromSecret(name string, ref schema.SecretKeyRef) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.Key},
	}}
}

// EnvNamed keeps the variables of env with one of names.
func EnvNamed(env []corev1.EnvVar, names ...string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, e := range env {
		if slices.Contains(names, e.Name) {
			out = append(out, e)
		}
	}
	return out
}

// ResticEnv is what restic needs to open a target's repository.
func ResticEnv(t *schema.Target) []corev1.EnvVar {
	env := []corev1.EnvVar{
		Literal("RESTIC_REPOSITORY", t.Restic.Repository),
		FromSecret("RESTIC_PASSWORD", t.Restic.PasswordSecret),
		Literal("RESTIC_CACHE_DIR", TmpDir+"/restic-cache"),
	}
	if c := t.Restic.S3Credentials; c != nil {
		env = append(env, FromSecret("AWS_ACCESS_KEY_ID", c.AccessKeyID), FromSecret("AWS_SECRET_ACCESS_KEY", c.SecretAccessKey))
	}
	if c := t.Restic.RESTCredentials; c != nil {
		env = append(env, FromSecret("RESTIC_REST_USERNAME", c.Username), FromSecret("RESTIC_REST_PASSWORD", c.Password))
	}
	return env
}

// BlockScalar indents scripts with spaces: YAML emitters fall back to a
// quoted one-line string for text with tabs, which nobody can review.
func BlockScalar(script string) string { return strings.ReplaceAll(script, "\t", "  ") }

// RestrictedContainer applies the Pod Security Standard "restricted".
func RestrictedContainer(c corev1.Container) corev1.Container {
	c.SecurityContext = &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
	}
	return c
}

// PodSecurityContext runs a Pod as odbackup's own unprivileged user,
// under the Pod Security Standard "restricted".
func PodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](RunAsUser),
		RunAsGroup:     ptr.To[int64](RunAsUser),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// Resources are a container's requests and limits; a quantity that does
// not parse is the Builder's error.
func (g *Builder) Resources(r schema.Resources) corev1.ResourceRequirements {
	q := func(s string) resource.Quantity {
		v, err := resource.ParseQuantity(s)
		if err != nil {
			g.Fail(fmt.Errorf("resources: %q: %w", s, err))
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

// Pod runs containers in order as the ServiceAccount account: the last as
// the main container, the others (after the init containers that copy the
// static binaries they need) as init containers.
func (g *Builder) Pod(account string, resources schema.Resources, plans []Container) corev1.PodSpec {
	pol := g.Plan.Site.Policy
	var restic, busybox, api bool
	for _, cp := range plans {
		restic, busybox, api = restic || cp.Restic, busybox || cp.Busybox, api || cp.API
	}
	res := g.Resources(resources)
	mounts := []corev1.VolumeMount{{Name: "tools", MountPath: ToolsDir, ReadOnly: true}, {Name: "tmp", MountPath: TmpDir}}
	var inits []corev1.Container
	if restic {
		inits = append(inits, RestrictedContainer(corev1.Container{
			Name: "copy-restic", Image: pol.Images.Restic,
			Command:      []string{"/bin/sh", "-c", "cp /usr/bin/restic " + ToolsDir + "/restic"},
			Resources:    res,
			VolumeMounts: []corev1.VolumeMount{{Name: "tools", MountPath: ToolsDir}},
		}))
	}
	if busybox {
		inits = append(inits, RestrictedContainer(corev1.Container{
			Name: "copy-busybox", Image: pol.Images.Busybox,
			Command: []string{"/bin/busybox", "sh", "-c",
				"cp /bin/busybox " + ToolsDir + "/busybox && " + ToolsDir + "/busybox --install -s " + ToolsDir},
			Resources:    res,
			VolumeMounts: []corev1.VolumeMount{{Name: "tools", MountPath: ToolsDir}},
		}))
	}
	var steps []corev1.Container
	for _, cp := range plans {
		shell := "/bin/sh"
		if cp.Busybox {
			shell = ToolsDir + "/sh" // the kubectl image is distroless
		}
		m := slices.Clone(mounts)
		if cp.API {
			m = append(m, corev1.VolumeMount{Name: "kube-api-access", MountPath: APIDir, ReadOnly: true})
		}
		m = append(m, cp.Mounts...)
		env := append([]corev1.EnvVar{Literal("PATH", PodPath), Literal("HOME", TmpDir)}, cp.Env...)
		c := RestrictedContainer(corev1.Container{
			Name: cp.Name, Image: cp.Image,
			Command:      []string{shell, "-c", BlockScalar(cp.Script)},
			Env:          env,
			Resources:    res,
			VolumeMounts: m,
		})
		if cp.User != 0 {
			c.SecurityContext.RunAsUser = ptr.To(cp.User)
		}
		steps = append(steps, c)
	}
	inits = append(inits, steps[:len(steps)-1]...)
	spec := corev1.PodSpec{
		ServiceAccountName:           account,
		AutomountServiceAccountToken: ptr.To(false),
		RestartPolicy:                corev1.RestartPolicyNever,
		SecurityContext:              PodSecurityContext(),
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
		spec.Volumes = append(spec.Volumes, APIAccessVolume())
	}
	return spec
}

// APIAccessVolume is the ServiceAccount token, CA and namespace, mounted
// only into the containers that call the Kubernetes API.
func APIAccessVolume() corev1.Volume {
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

// YAML serializes objects as YAML documents through their unstructured
// (JSON-shaped) form, with status dropped (it is the cluster's to write),
// so keys come out sorted. The map goes straight to the YAML encoder that
// sigs.k8s.io/yaml uses; its JSON-to-YAML round trip gives the same bytes
// at twice the cost (BenchmarkEmit; out/ proves the bytes are the same).
func (g *Builder) YAML(objs ...any) []byte {
	var b bytes.Buffer
	for i, obj := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			g.Fail(err)
			return nil
		}
		delete(u, "status")
		if md, ok := u["metadata"].(map[string]any); ok && len(md) == 0 {
			delete(u, "metadata")
		}
		data, err := goyaml.Marshal(u)
		if err != nil {
			g.Fail(err)
			return nil
		}
		b.Write(data)
	}
	return b.Bytes()
}

// Fail records err unless an earlier error is recorded; Fail(nil) does
// nothing.
func (g *Builder) Fail(err error) {
	if g.err == nil {
		g.err = err
	}
}

// LabelPreUpgrade marks the pre-upgrade Jobs, so the runbook can wait for
// and delete all of them at once.
const LabelPreUpgrade = "odbackup.io/pre-upgrade"

// PreUpgradeJobName is the name of a backup CronJob's pre-upgrade Job.
func PreUpgradeJobName(j *plan.Job) string { return plan.DNSName(63, j.Name, "pre-upgrade") }

// The containers that start and end a run of a backup job of several steps
// (generator/jobs_run.go); the runbooks name the last one.
const (
	RunStartContainer  = "odbackup-start"
	RunResultContainer = "odbackup-result"
)
