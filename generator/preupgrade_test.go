package generator_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Every backup CronJob has a pre-upgrade Job with the very same pod, every
// container told the release it backs up before; nothing else differs, so
// the Job backs up what the CronJob does, with the same rights.
func TestPreUpgradeJobs(t *testing.T) {
	for site, tree := range examples(t) {
		var cronJobs int
		for _, p := range tree.Paths() {
			if !strings.HasPrefix(p, "cronjobs/") {
				continue
			}
			var cj batchv1.CronJob
			if err := yaml.UnmarshalStrict(tree[p], &cj); err != nil {
				t.Fatal(err)
			}
			if cj.Annotations["odbackup.io/stores"] == "" || cj.Labels["odbackup.io/drill"] == "true" {
				continue // restic maintenance and restore drills take no backup
			}
			cronJobs++
			jp := "pre-upgrade/" + cj.Name + "-pre-upgrade.yaml"
			data, ok := tree[jp]
			if !ok {
				t.Errorf("%s: CronJob %s has no %s", site, cj.Name, jp)
				continue
			}
			var job batchv1.Job
			if err := yaml.UnmarshalStrict(data, &job); err != nil {
				t.Fatal(err)
			}
			release := job.Annotations["odbackup.io/release"]
			if release == "" || job.Labels["odbackup.io/pre-upgrade"] != "true" || job.Spec.Template.Labels["odbackup.io/pre-upgrade"] != "true" {
				t.Errorf("%s: %s is not marked as a pre-upgrade Job of a release: %v %v", site, jp, job.Labels, job.Annotations)
			}
			want := cj.Spec.JobTemplate.Spec.Template.Spec.DeepCopy()
			tag := corev1.EnvVar{Name: "ODBACKUP_PRE_UPGRADE", Value: release}
			for i := range want.InitContainers {
				want.InitContainers[i].Env = append(want.InitContainers[i].Env, tag)
			}
			for i := range want.Containers {
				want.Containers[i].Env = append(want.Containers[i].Env, tag)
			}
			if !reflect.DeepEqual(&job.Spec.Template.Spec, want) {
				t.Errorf("%s: the pod of %s is not the pod of CronJob %s with %s", site, jp, cj.Name, tag.Name)
			}
			if *job.Spec.ActiveDeadlineSeconds != *cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds {
				t.Errorf("%s: %s has another deadline than its CronJob", site, jp)
			}
		}
		var jobs []string
		for _, p := range tree.Paths() {
			if strings.HasPrefix(p, "pre-upgrade/") {
				jobs = append(jobs, p)
			}
		}
		if len(jobs) != cronJobs || cronJobs == 0 {
			t.Errorf("%s: %d pre-upgrade Jobs for %d backup CronJobs", site, len(jobs), cronJobs)
		}
		if !slices.Contains(tree.Paths(), "runbooks/upgrade.md") {
			t.Errorf("%s: no runbooks/upgrade.md", site)
		}
	}
}
