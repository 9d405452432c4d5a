package generator_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	kustomize "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/internal/testsite"
	"github.com/odbackup/odbackup/schema"
)

// exampleSites evaluates every example policy once per test binary.
func exampleSites() (map[string]*schema.Site, error) { return testsite.Sites("../examples") }

func examples(t *testing.T) map[string]generator.Tree {
	t.Helper()
	return testsite.Trees(t, "../examples")
}

// decoded is every object of a generated tree, decoded strictly.
type decoded struct {
	cronJobs map[string]*batchv1.CronJob
	jobs     map[string]*batchv1.Job // restore Jobs, restore/ only
	// preUpgrade are the pre-upgrade Jobs (pre-upgrade/): the backup
	// CronJobs' pods, run once by hand.
	preUpgrade map[string]*batchv1.Job
	// repositoryInit are the Jobs that create the targets' repositories
	// (repository/), run once by hand.
	repositoryInit map[string]*batchv1.Job
	accounts       map[string]*corev1.ServiceAccount
	roles          map[string]*rbacv1.Role
	bindings       map[string]*rbacv1.RoleBinding
	classes        []*snapshotv1.VolumeSnapshotClass
	snapshots      []*snapshotv1.VolumeSnapshot
	// clones and copyPods are what the off-site copy scripts create.
	clones   []*corev1.PersistentVolumeClaim
	copyPods map[string]*corev1.Pod
	kust     *kustomize.Kustomization
	// policies and policyBindings are the admission objects, by name,
	// with the path of their file.
	policies       map[string]*admissionv1.ValidatingAdmissionPolicy
	policyBindings map[string]*admissionv1.ValidatingAdmissionPolicyBinding
	policyPaths    map[string]string
}

// strict decodes one YAML document into v; unknown or duplicate fields
// are errors.
func strict(t *testing.T, where string, doc []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

func decodeTree(t *testing.T, site string, tree generator.Tree) *decoded {
	d := &decoded{cronJobs: map[string]*batchv1.CronJob{}, jobs: map[string]*batchv1.Job{}, preUpgrade: map[string]*batchv1.Job{}, repositoryInit: map[string]*batchv1.Job{}, accounts: map[string]*corev1.ServiceAccount{},
		roles: map[string]*rbacv1.Role{}, bindings: map[string]*rbacv1.RoleBinding{},
		policies: map[string]*admissionv1.ValidatingAdmissionPolicy{}, policyBindings: map[string]*admissionv1.ValidatingAdmissionPolicyBinding{},
		policyPaths: map[string]string{}}
	for _, p := range tree.Paths() {
		if !strings.HasSuffix(p, ".yaml") || p == "alerts/rules.yaml" { // a Prometheus rules file, not an object
			continue
		}
		for i, doc := range bytes.Split(tree[p], []byte("\n---\n")) {
			where := fmt.Sprintf("%s/%s#%d", site, p, i)
			var meta struct{ Kind string }
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			switch meta.Kind {
			case "CronJob":
				var o batchv1.CronJob
				strict(t, where, doc, &o)
				d.cronJobs[o.Name] = &o
			case "Job":
				var o batchv1.Job
				strict(t, where, doc, &o)
				if !strings.HasPrefix(p, "restore/") && !strings.HasPrefix(p, "pre-upgrade/") && !strings.HasPrefix(p, "repository/") {
					t.Errorf("%s: a Job outside restore/, pre-upgrade/ and repository/ would run whenever the kustomization is applied", where)
				}
				if strings.HasPrefix(p, "pre-upgrade/") {
					d.preUpgrade[o.Name] = &o
				} else if strings.HasPrefix(p, "repository/") {
					d.repositoryInit[o.Name] = &o
				} else {
					d.jobs[o.Name] = &o
				}
			case "ServiceAccount":
				var o corev1.ServiceAccount
				strict(t, where, doc, &o)
				d.accounts[o.Name] = &o
			case "Role":
				var o rbacv1.Role
				strict(t, where, doc, &o)
				d.roles[o.Name] = &o
			case "RoleBinding":
				var o rbacv1.RoleBinding
				strict(t, where, doc, &o)
				d.bindings[o.Name] = &o
			case "VolumeSnapshotClass":
				var o snapshotv1.VolumeSnapshotClass
				strict(t, where, doc, &o)
				d.classes = append(d.classes, &o)
			case "PrometheusRule":
				var o monitoringv1.PrometheusRule
				strict(t, where, doc, &o)
			case "ValidatingAdmissionPolicy":
				var o admissionv1.ValidatingAdmissionPolicy
				strict(t, where, doc, &o)
				d.policies[o.Name] = &o
				d.policyPaths[o.Name] = p
			case "ValidatingAdmissionPolicyBinding":
				var o admissionv1.ValidatingAdmissionPolicyBinding
				strict(t, where, doc, &o)
				d.policyBindings[o.Name] = &o
			case "Kustomization":
				var o kustomize.Kustomization
				strict(t, where, doc, &o)
				d.kust = &o
			default:
				t.Errorf("%s: unexpected kind %q (ClusterRoles and other kinds are never generated)", where, meta.Kind)
			}
		}
	}
	// The objects the scripts create (VolumeSnapshots, the off-site
	// copy's clone and pod) are objects too, with the script's variables
	// filled in.
	d.copyPods = map[string]*corev1.Pod{}
	fill := strings.NewReplacer("${snapshot}", "snap-1", "${class}", "standard", "${size}", "1Gi")
	for _, cj := range d.cronJobs {
		for _, c := range podContainers(&cj.Spec.JobTemplate.Spec.Template.Spec) {
			where := site + "/" + cj.Name + "/" + c.Name
			for _, doc := range heredocs(scriptOf(c)) {
				manifest := []byte(fill.Replace(doc))
				var meta struct{ Kind string }
				if err := yaml.Unmarshal(manifest, &meta); err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				switch meta.Kind {
				case "VolumeSnapshot":
					var o snapshotv1.VolumeSnapshot
					strict(t, where, manifest, &o)
					d.snapshots = append(d.snapshots, &o)
				case "PersistentVolumeClaim":
					var o corev1.PersistentVolumeClaim
					strict(t, where, manifest, &o)
					d.clones = append(d.clones, &o)
				case "Pod":
					var o corev1.Pod
					strict(t, where, manifest, &o)
					d.copyPods[o.Name] = &o
				default:
					t.Errorf("%s: a script creates an unexpected kind %q", where, meta.Kind)
				}
			}
		}
	}
	return d
}

// heredocs are the here-documents of a script that hold manifests.
func heredocs(script string) []string {
	var out []string
	for {
		start, open := -1, ""
		for _, o := range []string{"<<EOF\n", "<<'EOF'\n"} {
			if i := strings.Index(script, o); i >= 0 && (start < 0 || i < start) {
				start, open = i, o
			}
		}
		if start < 0 {
			return out
		}
		body := script[start+len(open):]
		end := strings.Index(body, "\nEOF\n")
		if end < 0 {
			return out
		}
		if doc := body[:end+1]; strings.HasPrefix(doc, "apiVersion:") {
			out = append(out, doc)
		}
		script = body[end:]
	}
}

// pods are the pod templates of every CronJob and restore Job, by name.
// Pre-upgrade Jobs are left out: TestPreUpgradeJobs proves each has its
// CronJob's pod, ServiceAccount included.
func (d *decoded) pods() map[string]*corev1.PodTemplateSpec {
	pods := map[string]*corev1.PodTemplateSpec{}
	for name, cj := range d.cronJobs {
		pods[name] = &cj.Spec.JobTemplate.Spec.Template
	}
	for name, j := range d.jobs {
		pods[name] = &j.Spec.Template
	}
	for name, j := range d.repositoryInit {
		pods[name] = &j.Spec.Template
	}
	return pods
}

func podContainers(spec *corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(spec.InitContainers), spec.Containers...)
}

func scriptOf(c corev1.Container) string {
	if len(c.Command) == 3 && c.Command[1] == "-c" {
		return c.Command[2]
	}
	return ""
}

// TestManifestsDecodeStrictly: every generated document decodes into its
// Go type with unknown fields as errors, and the kustomization lists every
// file but nothing else.
func TestManifestsDecodeStrictly(t *testing.T) {
	for site, tree := range examples(t) {
		d := decodeTree(t, site, tree)
		if d.kust == nil {
			t.Fatalf("%s: no kustomization.yaml", site)
		}
		sites, err := exampleSites()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, p := range tree.Paths() {
			alerts := strings.HasPrefix(p, "alerts/")
			if strings.HasSuffix(p, ".yaml") && p != "kustomization.yaml" && !strings.HasPrefix(p, "restore/") && !strings.HasPrefix(p, "pre-upgrade/") &&
				!strings.HasPrefix(p, "repository/") && (!alerts || p == "alerts/prometheusrule.yaml" && sites[site].Policy.Alerts.InKustomization) {
				want = append(want, p)
			}
		}
		if !slices.Equal(d.kust.Resources, want) {
			t.Errorf("%s: kustomization resources %v, want %v", site, d.kust.Resources, want)
		}
		if len(d.cronJobs) == 0 {
			t.Errorf("%s: no CronJobs", site)
		}
	}
}

// TestPodsAreRestricted checks every pod template against the Pod Security
// Standard "restricted" with the upstream admission library.
func TestPodsAreRestricted(t *testing.T) {
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	for site, tree := range examples(t) {
		d := decodeTree(t, site, tree)
		for name, tmpl := range d.pods() {
			for _, r := range eval.EvaluatePod(lv, &tmpl.ObjectMeta, &tmpl.Spec) {
				if !r.Allowed {
					t.Errorf("%s/%s: %s: %s", site, name, r.ForbiddenReason, r.ForbiddenDetail)
				}
			}
		}
		for name, pod := range d.copyPods {
			for _, r := range eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec) {
				if !r.Allowed {
					t.Errorf("%s/%s: %s: %s", site, name, r.ForbiddenReason, r.ForbiddenDetail)
				}
			}
		}
	}
}

// TestCronJobSettings checks what every CronJob must have: no concurrent
// runs, deadlines, bounded history and retries, resources, pinned images.
func TestCronJobSettings(t *testing.T) {
	for site, tree := range examples(t) {
		for name, cj := range decodeTree(t, site, tree).cronJobs {
			s := cj.Spec
			job := s.JobTemplate.Spec
			switch {
			case s.ConcurrencyPolicy != batchv1.ForbidConcurrent:
				t.Errorf("%s/%s: concurrencyPolicy %q", site, name, s.ConcurrencyPolicy)
			case s.StartingDeadlineSeconds == nil, job.ActiveDeadlineSeconds == nil, job.BackoffLimit == nil:
				t.Errorf("%s/%s: missing a deadline or backoff limit", site, name)
			case s.SuccessfulJobsHistoryLimit == nil || *s.SuccessfulJobsHistoryLimit > 5,
				s.FailedJobsHistoryLimit == nil || *s.FailedJobsHistoryLimit > 5:
				t.Errorf("%s/%s: unbounded history", site, name)
			case s.TimeZone == nil:
				t.Errorf("%s/%s: no time zone", site, name)
			}
			checkPodSettings(t, site, name, &job.Template.Spec)
		}
	}
}

// checkPodSettings checks what every generated Pod must have: its own
// ServiceAccount, the API token only where a container mounts it,
// resources, pinned images and no secret value in its environment.
func checkPodSettings(t *testing.T, site, name string, pod *corev1.PodSpec) {
	t.Helper()
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s/%s: the service account token is mounted into every container", site, name)
	}
	if pod.ServiceAccountName != name {
		t.Errorf("%s/%s: runs as %q, not its own ServiceAccount", site, name, pod.ServiceAccountName)
	}
	names := map[string]bool{}
	for _, c := range podContainers(pod) {
		if names[c.Name] {
			t.Errorf("%s/%s: two containers are named %s", site, name, c.Name)
		}
		names[c.Name] = true
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
			t.Errorf("%s/%s/%s: missing resource requests or limits", site, name, c.Name)
		}
		if !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
			t.Errorf("%s/%s/%s: image %q is not pinned", site, name, c.Name, c.Image)
		}
		for _, e := range c.Env {
			if secretLooking(e.Name) && e.Value != "" {
				t.Errorf("%s/%s/%s: %s holds a literal value; secrets come from secretKeyRef", site, name, c.Name, e.Name)
			}
		}
	}
}

func secretLooking(name string) bool {
	n := strings.ToUpper(name)
	return strings.Contains(n, "PASSWORD") || strings.Contains(n, "SECRET") || strings.HasSuffix(n, "_AUTH") || n == "MYSQL_PWD"
}

// TestRBACIsLeastPrivilege checks every Role against DESIGN §4 and checks
// that a job holds API rights exactly when one of its containers uses the
// API, and that only those containers see the token.
func TestRBACIsLeastPrivilege(t *testing.T) {
	for site, tree := range examples(t) {
		d := decodeTree(t, site, tree)
		for name, tmpl := range d.pods() {
			if d.accounts[name] == nil {
				t.Errorf("%s/%s: no ServiceAccount of its own", site, name)
			}
			usesAPI := false
			for _, c := range podContainers(&tmpl.Spec) {
				mountsToken := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "kube-api-access" })
				callsAPI := strings.Contains(scriptOf(c), "kubectl ")
				if mountsToken != callsAPI {
					t.Errorf("%s/%s/%s: mounts the API token: %t, calls kubectl: %t", site, name, c.Name, mountsToken, callsAPI)
				}
				usesAPI = usesAPI || callsAPI
			}
			role := d.roles[name]
			if usesAPI != (role != nil) || (role != nil) != (d.bindings[name] != nil) {
				t.Errorf("%s/%s: uses the API: %t, has a Role: %t, a RoleBinding: %t", site, name, usesAPI, role != nil, d.bindings[name] != nil)
			}
			if b := d.bindings[name]; b != nil {
				if b.RoleRef.Kind != "Role" || b.RoleRef.Name != name || len(b.Subjects) != 1 || b.Subjects[0].Name != name {
					t.Errorf("%s/%s: RoleBinding binds %v to %v", site, name, b.Subjects, b.RoleRef)
				}
			}
		}
		for name, pod := range d.copyPods {
			if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
				t.Errorf("%s/%s: the copy pod mounts an API token", site, name)
			}
			for _, v := range pod.Spec.Volumes {
				if c := v.PersistentVolumeClaim; c != nil && (!c.ReadOnly || !strings.HasPrefix(c.ClaimName, "odbackup-clone-")) {
					t.Errorf("%s/%s: the copy pod mounts %s (read-only: %t); it mounts only its clone, read-only", site, name, c.ClaimName, c.ReadOnly)
				}
			}
		}
		for name, role := range d.roles {
			if strings.HasPrefix(name, "odbackup-restore-") {
				checkRestoreRules(t, site, name, role.Rules)
				continue
			}
			for _, r := range role.Rules {
				for _, s := range slices.Concat(r.APIGroups, r.Resources, r.Verbs) {
					if strings.Contains(s, "*") {
						t.Errorf("%s/%s: wildcard in %v", site, name, r)
					}
				}
				for _, res := range r.Resources {
					named := len(r.ResourceNames) > 0
					switch res {
					case "secrets":
						if !named || !slices.Equal(r.Verbs, []string{"get"}) {
							t.Errorf("%s/%s: secrets rule %v is not a get of named Secrets", site, name, r)
						}
					case "pods", "persistentvolumeclaims":
						// create cannot be named: the object has no name
						// yet when RBAC decides.
						if !named && !slices.Equal(r.Verbs, []string{"create"}) {
							t.Errorf("%s/%s: %s without resourceNames beyond create", site, name, res)
						}
					case "pods/exec", "pods/log", "configmaps":
						if !named {
							t.Errorf("%s/%s: %s without resourceNames", site, name, res)
						}
					case "volumesnapshots":
						if r.APIGroups[0] != "snapshot.storage.k8s.io" || slices.Contains(r.Verbs, "update") || slices.Contains(r.Verbs, "patch") {
							t.Errorf("%s/%s: volumesnapshots rule %v", site, name, r)
						}
					default:
						t.Errorf("%s/%s: no job needs %s: %v", site, name, res, r)
					}
				}
			}
		}
	}
}

// TestScriptsPassShellcheck runs shellcheck on every generated script.
// make test installs shellcheck and sets ODBACKUP_SHELLCHECK=required, so
// CI cannot skip this test.
func TestScriptsPassShellcheck(t *testing.T) {
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("ODBACKUP_SHELLCHECK") == "required" {
			t.Fatal("shellcheck is required but not installed (e2e/scripts/ensure-packages.sh shellcheck)")
		}
		t.Skip("shellcheck not installed; make test installs it")
	}
	dir := t.TempDir()
	seen := map[string]string{}
	var files []string
	for site, tree := range examples(t) {
		d := decodeTree(t, site, tree)
		specs := map[string]*corev1.PodSpec{}
		for name, tmpl := range d.pods() {
			specs[name] = &tmpl.Spec
		}
		for name, pod := range d.copyPods {
			specs[name] = &pod.Spec
		}
		for name, spec := range specs {
			for _, c := range podContainers(spec) {
				script := scriptOf(c)
				if script == "" || seen[script] != "" {
					continue
				}
				f := filepath.Join(dir, fmt.Sprintf("%s_%s_%s.sh", site, name, c.Name))
				seen[script] = f
				if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
					t.Fatal(err)
				}
				files = append(files, f)
			}
		}
	}
	slices.Sort(files)
	out, err := exec.Command(bin, append([]string{"--shell=sh", "--severity=style", "--format=gcc"}, files...)...).CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck found problems in generated scripts:\n%s", out)
	}
}

// checkRestoreRules holds a restore Job's Role to what its script does:
// named objects wherever Kubernetes can check a name; without a name only
// create (the new object has none yet when RBAC decides) and reading
// VolumeSnapshots, which carry no data.
func checkRestoreRules(t *testing.T, site, name string, rules []rbacv1.PolicyRule) {
	t.Helper()
	for _, r := range rules {
		for _, x := range slices.Concat(r.APIGroups, r.Resources, r.Verbs) {
			if strings.Contains(x, "*") {
				t.Errorf("%s/%s: wildcard in %v", site, name, r)
			}
		}
		named := len(r.ResourceNames) > 0
		verbs := strings.Join(r.Verbs, ",")
		for _, res := range r.Resources {
			ok := false
			switch res {
			case "persistentvolumeclaims":
				ok = named && verbs == "delete,get,list,watch" || !named && verbs == "create"
			case "configmaps", "secrets":
				ok = named && verbs == "get,update" || !named && verbs == "create"
			case "statefulsets", "deployments":
				ok = named && verbs == "get" && r.APIGroups[0] == "apps"
			case "pods":
				ok = named && verbs == "get"
			case "pods/exec":
				ok = named && verbs == "create,get"
			case "volumesnapshots":
				// get, list and watch (kubectl wait) the store's snapshots;
				// create the safety snapshot, which the admission policy
				// narrows to the store's label.
				ok = !named && (verbs == "get,list,watch" || verbs == "create") && r.APIGroups[0] == "snapshot.storage.k8s.io"
			}
			if !ok {
				t.Errorf("%s/%s: a restore needs no rule %v", site, name, r)
			}
		}
	}
}

// TestRestoreJobSettings checks what every restore Job must have: no
// automatic retry, a deadline, the newest backup as what it restores
// unless told otherwise, and what every generated Pod has.
func TestRestoreJobSettings(t *testing.T) {
	for site, tree := range examples(t) {
		d := decodeTree(t, site, tree)
		if len(d.jobs) == 0 {
			t.Errorf("%s: no restore Jobs", site)
		}
		for name, j := range d.jobs {
			s := j.Spec
			switch {
			case s.BackoffLimit == nil || *s.BackoffLimit != 0:
				t.Errorf("%s/%s: a failed restore must not retry on its own", site, name)
			case s.ActiveDeadlineSeconds == nil:
				t.Errorf("%s/%s: no deadline", site, name)
			}
			main := s.Template.Spec.Containers
			if len(main) != 1 || !slices.Contains(main[0].Env, corev1.EnvVar{Name: "ODBACKUP_SNAPSHOT", Value: "list"}) {
				t.Errorf("%s/%s: the restore container must read ODBACKUP_SNAPSHOT, list by default (applied by accident, it restores nothing)", site, name)
			}
			checkPodSettings(t, site, name, &s.Template.Spec)
		}
	}
}
