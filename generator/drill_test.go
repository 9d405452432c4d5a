package generator_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator/coverage"
)

// TestCoverageMatchesTheDrills: what the coverage report says of each
// backup's restore drill is what the generated drill CronJobs do: the
// CronJob exists, is labelled a drill, runs at that schedule, lists the
// store and has a container that drills it, with the catalog's sanity
// check where the store has one. A drill the site turned off has no
// CronJob. Drills have no Role (they only read the restic repository).
func TestCoverageMatchesTheDrills(t *testing.T) {
	checks := map[string]string{
		"nextcloud/postgresql/nextcloud": "SELECT EXISTS (SELECT 1 FROM oc_users)",
		"nubus/postgresql/keycloak":      "SELECT EXISTS (SELECT 1 FROM realm WHERE name = ",
	}
	drilled, off := 0, 0
	for site, tree := range examples(t) {
		c, err := coverage.ParseCoverage(tree["coverage.json"])
		if err != nil {
			t.Fatalf("%s/coverage.json: %v", site, err)
		}
		d := decodeTree(t, site, tree)
		for _, app := range c.Apps {
			for _, st := range app.Stores {
				for _, b := range st.Backups {
					where := fmt.Sprintf("%s: %s (%s)", site, st.ID, b.Method)
					switch {
					case b.Drill == nil:
						continue
					case b.Drill.Off != "":
						off++
						if _, ok := d.cronJobs["odbackup-drill-"+app.ID]; ok {
							t.Errorf("%s: the drill is off, but CronJob odbackup-drill-%s exists", where, app.ID)
						}
						continue
					}
					drilled++
					cj := d.cronJobs[b.Drill.CronJob]
					if cj == nil || cj.Spec.Schedule != b.Drill.Schedule || cj.Labels["odbackup.io/drill"] != "true" || cj.Labels["odbackup.io/app"] != app.ID {
						t.Errorf("%s: no drill CronJob %s at %q labelled odbackup.io/drill=true", where, b.Drill.CronJob, b.Drill.Schedule)
						continue
					}
					if !slices.Contains(strings.Split(cj.Annotations["odbackup.io/stores"], ","), st.ID) {
						t.Errorf("%s: drill %s does not list the store", where, cj.Name)
					}
					var script string
					for _, ct := range podContainers(&cj.Spec.JobTemplate.Spec.Template.Spec) {
						if s := scriptOf(ct); strings.Contains(s, "# odbackup drill: ") && strings.Contains(s, "("+st.ID+")") {
							script = s
						}
					}
					if script == "" {
						t.Errorf("%s: drill %s has no container that drills the store", where, cj.Name)
					} else if check, ok := checks[st.ID]; ok && !strings.Contains(strings.ReplaceAll(script, `'\''`, "'"), "check='"+check) {
						t.Errorf("%s: drill %s does not run the catalog's sanity check %q", where, cj.Name, check)
					}
					if _, ok := d.roles[cj.Name]; ok {
						t.Errorf("%s: drill %s has a Role; drills need none", where, cj.Name)
					}
				}
			}
		}
	}
	if drilled == 0 || off == 0 {
		t.Errorf("the examples have %d drilled backups and %d with the drill off; want both", drilled, off)
	}
}
