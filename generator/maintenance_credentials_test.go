package generator_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/internal/testsite"
	"github.com/odbackup/odbackup/schema"
)

// A target with maintenance credentials (restic.maintenance): the
// maintenance CronJob and the Job that creates the repository open it with
// them (and the maintenance URL), and nothing else the site generates names
// their Secret: no backup, restore, drill or pre-upgrade Pod, no copy Pod a
// backup creates, no Role. A backup Pod reads a Secret only by naming it
// (env) or through the API (a Role); both are checked. The example
// landesamt-it uses the feature on both its targets (an S3 and a REST one).
func TestMaintenanceCredentials(t *testing.T) {
	sites, err := testsite.Sites("../examples")
	if err != nil {
		t.Fatal(err)
	}
	trees := examples(t)
	checked := 0
	for name, site := range sites {
		tree := trees[name]
		d := decodeTree(t, name, tree)
		for tname, target := range site.Policy.Targets {
			m := target.Restic.Maintenance
			if m == nil {
				continue
			}
			checked++
			mt := target.ForMaintenance()
			secret := m.CredentialsSecret
			named := regexp.MustCompile(`(?m)name: ` + regexp.QuoteMeta(secret) + `$`)
			// The maintenance CronJob and the init Job: the maintenance's
			// repository and credentials.
			var maint []string
			for cname, cj := range d.cronJobs {
				if cj.Annotations["odbackup.io/target"] == tname {
					maint = append(maint, cname)
					checkResticEnv(t, name+"/"+cname, &cj.Spec.JobTemplate.Spec.Template.Spec, mt)
				}
			}
			if len(maint) != 1 {
				t.Fatalf("%s: target %s has maintenance CronJobs %v, want one", name, tname, maint)
			}
			init := d.repositoryInit["odbackup-init-"+tname]
			if init == nil {
				t.Fatalf("%s: no init Job for target %s", name, tname)
			}
			checkResticEnv(t, name+"/"+init.Name, &init.Spec.Template.Spec, mt)
			// Every other file: not a word of the maintenance's Secret.
			for _, p := range tree.Paths() {
				if p == "cronjobs/"+maint[0]+".yaml" || p == "repository/"+tname+".yaml" || strings.HasSuffix(p, ".md") {
					continue
				}
				if secret != "" && named.Match(tree[p]) {
					t.Errorf("%s/%s names the maintenance Secret %s of target %s: only the maintenance and the init Job may", name, p, secret, tname)
				}
				if m.Repository != "" && strings.Contains(string(tree[p]), m.Repository) {
					t.Errorf("%s/%s names the maintenance URL %s of target %s", name, p, m.Repository, tname)
				}
			}
			// The backups of the target use its own credentials.
			backups := 0
			for cname, cj := range d.cronJobs {
				if cj.Annotations["odbackup.io/target"] != "" {
					continue
				}
				for _, c := range podContainers(&cj.Spec.JobTemplate.Spec.Template.Spec) {
					if envValue(c.Env, "RESTIC_REPOSITORY") == target.Restic.Repository {
						backups++
						checkResticEnv(t, name+"/"+cname+"/"+c.Name, &corev1.PodSpec{Containers: []corev1.Container{c}}, target)
					}
				}
			}
			if backups == 0 {
				t.Errorf("%s: no backup container writes to target %s", name, tname)
			}
			// No Role reads a Secret by name that is the maintenance's, nor
			// every Secret.
			for rname, r := range d.roles {
				for _, rule := range r.Rules {
					reads := slices.ContainsFunc(rule.Verbs, func(v string) bool { return v == "get" || v == "list" || v == "watch" || v == "*" })
					if !slices.Contains(rule.Resources, "secrets") || !reads {
						continue
					}
					if len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, secret) {
						t.Errorf("%s: Role %s may read %v of secrets (resourceNames %v): the maintenance Secret %s must stay out of reach", name, rname, rule.Verbs, rule.ResourceNames, secret)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no example uses restic.maintenance; landesamt-it should")
	}
}

func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// checkResticEnv: the last container of spec opens the repository as
// target says: its URL and the Secrets of its credentials.
func checkResticEnv(t *testing.T, where string, spec *corev1.PodSpec, target schema.Target) {
	t.Helper()
	c := spec.Containers[len(spec.Containers)-1]
	if got := envValue(c.Env, "RESTIC_REPOSITORY"); got != target.Restic.Repository {
		t.Errorf("%s: RESTIC_REPOSITORY %q, want %q", where, got, target.Restic.Repository)
	}
	want := map[string]schema.SecretKeyRef{}
	if cr := target.Restic.S3Credentials; cr != nil {
		want["AWS_ACCESS_KEY_ID"], want["AWS_SECRET_ACCESS_KEY"] = cr.AccessKeyID, cr.SecretAccessKey
	}
	if cr := target.Restic.RESTCredentials; cr != nil {
		want["RESTIC_REST_USERNAME"], want["RESTIC_REST_PASSWORD"] = cr.Username, cr.Password
	}
	for env, ref := range want {
		found := false
		for _, e := range c.Env {
			if e.Name == env && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				found = true
				if got := (schema.SecretKeyRef{Name: e.ValueFrom.SecretKeyRef.Name, Key: e.ValueFrom.SecretKeyRef.Key}); got != ref {
					t.Errorf("%s: %s from %s, want %s", where, env, got, ref)
				}
			}
		}
		if !found {
			t.Errorf("%s: no %s from a Secret", where, env)
		}
	}
}
