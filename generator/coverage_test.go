package generator_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/schema"
)

func exampleCoverage(t *testing.T, site string, tree generator.Tree) generator.Coverage {
	t.Helper()
	c, err := generator.ParseCoverage(tree["coverage.json"])
	if err != nil {
		t.Fatalf("%s/coverage.json: %v", site, err)
	}
	return c
}

// TestCoverageJSONReadsBack: coverage.json reads back into the same
// document, and compared with itself shows no change.
func TestCoverageJSONReadsBack(t *testing.T) {
	for site, tree := range examples(t) {
		c := exampleCoverage(t, site, tree)
		again, err := generator.CoverageJSON(c)
		if err != nil || !bytes.Equal(again, tree["coverage.json"]) {
			t.Errorf("%s: coverage.json does not read back into the same document (%v)", site, err)
		}
		if d := generator.CompareCoverage(c, c, "self"); len(d.Changes) > 0 || len(d.SiteChanges) > 0 {
			t.Errorf("%s: compared with itself: %+v", site, d)
		}
	}
}

// TestCoverageListsEveryStore: every store of the site's catalog, of every
// edition and release, and of its own apps, is in the report exactly once.
func TestCoverageListsEveryStore(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	for site, tree := range examples(t) {
		c := exampleCoverage(t, site, tree)
		var want, got []string
		for _, app := range s.Catalog(c.Distribution).Apps {
			for _, st := range app.Stores {
				want = append(want, strings.ReplaceAll(st.ID, "{release}", "*"))
			}
		}
		for _, app := range c.Apps {
			for _, st := range app.Stores {
				if !app.Extra {
					got = append(got, st.ID)
				}
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		// Ids derived from a Helm release name are compared by pattern.
		if len(want) != len(got) {
			t.Fatalf("%s: %d stores in the report, %d in the catalog", site, len(got), len(want))
		}
		for i := range want {
			if want[i] != got[i] && !matchesRelease(want[i], got[i]) {
				t.Errorf("%s: store %s of the catalog is not in the report (found %s)", site, want[i], got[i])
			}
		}
	}
}

func matchesRelease(pattern, id string) bool {
	before, after, ok := strings.Cut(pattern, "*")
	return ok && strings.HasPrefix(id, before) && strings.HasSuffix(id, after)
}

// TestCoverageMatchesTheJobs: what the report says of each backup is what
// the generated CronJobs do: the CronJob exists with that schedule and
// time zone, and its scripts keep what the report says they keep.
func TestCoverageMatchesTheJobs(t *testing.T) {
	for site, tree := range examples(t) {
		c := exampleCoverage(t, site, tree)
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
						if !strings.Contains(scriptWith(scripts, "CSI snapshot", "("+st.ID+")"), fmt.Sprintf(`if [ "$total" -gt %d ]`, r.Snapshots)) {
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

// TestCoverageTextFitsTheTerminal: the text report, and a diff with many
// changes (one example against another), fit 100 columns.
func TestCoverageTextFitsTheTerminal(t *testing.T) {
	var all []generator.Coverage
	for site, tree := range examples(t) {
		all = append(all, exampleCoverage(t, site, tree))
	}
	slices.SortFunc(all, func(a, b generator.Coverage) int { return strings.Compare(a.Site, b.Site) })
	check := func(what string, text []byte) {
		for i, line := range strings.Split(string(text), "\n") {
			if n := len([]rune(line)); n > 100 {
				t.Errorf("%s, line %d is %d columns wide: %s", what, i+1, n, line)
			}
		}
	}
	for i, c := range all {
		gate, err := generator.CheckCoverage(c, "2099-01-01")
		if err != nil {
			t.Fatal(err)
		}
		c.Gate = &gate
		check(c.Site+" report", append([]byte(generator.GateText(c.Gate)), generator.CoverageText(c)...))
		other := all[(i+1)%len(all)]
		d := generator.CompareCoverage(other, c, "other/coverage.json")
		d.WithLostCoverage(gate)
		if len(d.Changes) < 10 {
			t.Errorf("%s against %s: only %d changes", c.Site, other.Site, len(d.Changes))
		}
		check(c.Site+" diff", generator.DiffText(d))
	}
}
