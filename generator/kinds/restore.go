package kinds

import (
	"path"
	"strings"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
	corev1 "k8s.io/api/core/v1"
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
	Step *plan.Step
	// Stopped is the workload that must have 0 replicas while the Job
	// runs: the one mounting a restored claim, or the Redis server. Nil
	// when the Job needs no such check.
	Stopped *schema.Workload
}

// App is the id of the app whose store the Job restores.
func (r *RestoreJob) App() string { return r.Step.Store.App }

// Restores returns one restore Job per backup step, in the order of the
// steps. Names are unique within the site: a clash (two apps with a store
// of the same kind and identifier) falls back to a name with the app in it.
func Restores(p *plan.Plan) []*RestoreJob {
	var out []*RestoreJob
	taken := map[string]bool{}
	for _, st := range p.Steps {
		// What a reader recognises: "postgresql-keycloak-extensions",
		// "mariadb-primarydb", "pvc-postfix", or for a logical export its
		// file, "export-ldap-primary".
		base := Of(st).RestoreBase(st)
		name := "odbackup-restore-" + base
		if len(name) > 63 || taken[name] {
			name = plan.DNSName(63, "odbackup-restore", st.Store.App, base)
		}
		taken[name] = true
		out = append(out, &RestoreJob{
			Name:    name,
			Path:    path.Join("restore", st.Store.App, strings.TrimPrefix(name, "odbackup-restore-")+".yaml"),
			Step:    st,
			Stopped: Of(st).StoppedWorkload(p, st),
		})
	}
	return out
}

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

// findWorkload looks a workload up by name: in the store's own app first,
// then in every deployed app. Without a match, a known kind still makes a
// workload; otherwise there is none.
func findWorkload(p *plan.Plan, appID, name, kind string) *schema.Workload {
	if w := p.Site.Workload(appID, name); w != nil {
		return w
	}
	if kind == "" {
		return nil
	}
	return &schema.Workload{Kind: kind, Name: name, Replicas: 1, Confidence: "inferred", Source: "the store's connection"}
}

// RestoreContainer decides image, script and environment of a restore.
// The environment follows the backup's: a restore script reaches the same
// servers through the same variables, and ODBACKUP_SNAPSHOT says which
// backup to restore.
func RestoreContainer(g *manifest.Builder, r *RestoreJob) manifest.Container {
	st := r.Step
	cp := Of(st).RestoreContainer(g, st)
	cp.Name = "restore"
	cp.Script = Of(st).RestoreScript(g, r)
	// A restore Job applied as it is only lists what it could restore:
	// `kubectl apply -R -f out/<site>` by habit must not overwrite a
	// database. Restoring takes naming the backup (latest or an ID).
	cp.Env = append([]corev1.EnvVar{manifest.Literal("ODBACKUP_SNAPSHOT", "list")}, cp.Env...)
	if st.UsesRestic() {
		cp.Env = append(cp.Env, manifest.ResticEnv(st.Target)...)
	}
	return cp
}
