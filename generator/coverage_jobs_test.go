package generator_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator/coverage"
)

// TestCoverageMatchesTheJobs: what the report says of each backup is what
// the generated CronJobs do: the CronJob exists with that schedule and
// time zone, and its scripts keep what the report says they keep.
func TestCoverageMatchesTheJobs(t *testing.T) {
	for site, tree := range examples(t) {
		c, err := coverage.ParseCoverage(tree["coverage.json"])
		if err != nil {
			t.Fatalf("%s/coverage.json: %v", site, err)
		}
		d := decodeTree(t, site, tree)
		var scripts []string
		for _, cj := range d.cronJobs {
			for _, ct := range podContainers(&cj.Spec.JobTemplate.Spec.Template.Spec) {
				scripts = append(scripts, scriptOf(ct))
			}
		}
		all := strings.Join(scripts, "\n")
		backups := 0
		for _, app := range c.Apps {
			for _, st := range app.Stores {
				for _, b := range st.Backups {
					backups++
					where := fmt.Sprintf("%s: %s (%s)", site, st.ID, b.Method)
					cj := d.cronJobs[b.CronJob]
					if cj == nil || cj.Spec.Schedule != b.Schedule || cj.Spec.TimeZone == nil || *cj.Spec.TimeZone != c.TimeZone {
						t.Errorf("%s: no CronJob %s at %q in %s", where, b.CronJob, b.Schedule, c.TimeZone)
						continue
					}
					var want string
					switch r := b.Retention; {
					case r.GFS != nil:
						want = fmt.Sprintf("store=%s --group-by=host,paths --keep-daily=%d --keep-weekly=%d --keep-monthly=%d", st.ID, r.GFS.Daily, r.GFS.Weekly, r.GFS.Monthly)
						all = strings.ReplaceAll(all, "'store="+st.ID+"'", "store="+st.ID)
					case r.Snapshots > 0:
						if !strings.Contains(scriptWith(scripts, "CSI snapshot", "("+st.ID+")"), fmt.Sprintf(`if [ "$ready" -gt %d ]`, r.Snapshots)) {
							t.Errorf("%s: the snapshot script does not keep %d snapshots", where, r.Snapshots)
						}
						continue
					case r.ArchiveDays > 0:
						if !strings.Contains(scriptWith(scripts, "mirrored encrypted", "("+st.ID+")"), fmt.Sprintf("objects for %d days", r.ArchiveDays)) {
							t.Errorf("%s: the mirror script does not keep %d days", where, r.ArchiveDays)
						}
						continue
					}
					if !strings.Contains(all, want) {
						t.Errorf("%s: no maintenance script has %q", where, want)
					}
				}
			}
		}
		if backups == 0 {
			t.Errorf("%s: no backups in the report", site)
		}
	}
}

// scriptWith returns the script that contains both strings.
func scriptWith(scripts []string, a, b string) string {
	for _, s := range scripts {
		if strings.Contains(s, a) && strings.Contains(s, b) {
			return s
		}
	}
	return ""
}
