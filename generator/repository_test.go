package generator_test

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Every target a site backs up into with restic has the Job that creates
// its repository, with its own ServiceAccount and no Role, and the very
// repository environment of the target's maintenance; it is the only
// script that runs restic init: no backup and no maintenance creates a
// repository (two at once leave one that only one of their keys opens).
func TestRepositoryInitJobs(t *testing.T) {
	envOf := func(spec *corev1.PodSpec) []corev1.EnvVar {
		var env []corev1.EnvVar
		for _, e := range spec.Containers[len(spec.Containers)-1].Env {
			if strings.HasPrefix(e.Name, "RESTIC_") || strings.HasPrefix(e.Name, "AWS_") {
				env = append(env, e)
			}
		}
		return env
	}
	for site, tree := range examples(t) {
		d := decodeTree(t, site, tree)
		var targets []string
		for _, cj := range d.cronJobs {
			target := cj.Annotations["odbackup.io/target"]
			if target == "" {
				continue
			}
			targets = append(targets, target)
			name := "odbackup-init-" + target
			j := d.repositoryInit[name]
			if j == nil {
				t.Errorf("%s: target %s has no Job that creates its repository (repository/%s.yaml)", site, target, target)
				continue
			}
			if d.accounts[name] == nil || d.roles[name] != nil || j.Spec.Template.Spec.ServiceAccountName != name {
				t.Errorf("%s/%s: want a ServiceAccount of its own and no Role", site, name)
			}
			if got, want := envOf(&j.Spec.Template.Spec), envOf(&cj.Spec.JobTemplate.Spec.Template.Spec); !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s: repository environment %v, want the maintenance's %v", site, name, got, want)
			}
			if !strings.Contains(scriptOf(j.Spec.Template.Spec.Containers[0]), "restic init") {
				t.Errorf("%s/%s: the script does not run restic init", site, name)
			}
		}
		if len(d.repositoryInit) != len(targets) {
			t.Errorf("%s: %d Jobs that create repositories for %d targets %v", site, len(d.repositoryInit), len(targets), targets)
		}
		for name, tmpl := range d.pods() {
			if d.repositoryInit[name] != nil {
				continue
			}
			for _, c := range podContainers(&tmpl.Spec) {
				if strings.Contains(scriptOf(c), "restic init") {
					t.Errorf("%s/%s/%s runs restic init: only the Jobs of repository/ create a repository", site, name, c.Name)
				}
			}
		}
	}
}
