package coverage_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/coverage"
	"github.com/odbackup/odbackup/generator/internal/testsite"
	"github.com/odbackup/odbackup/schema"
)

func exampleCoverage(t *testing.T, site string, tree generator.Tree) coverage.Coverage {
	t.Helper()
	c, err := coverage.ParseCoverage(tree["coverage.json"])
	if err != nil {
		t.Fatalf("%s/coverage.json: %v", site, err)
	}
	return c
}

// TestCoverageJSONReadsBack: coverage.json reads back into the same
// document, and compared with itself shows no change.
func TestCoverageJSONReadsBack(t *testing.T) {
	for site, tree := range testsite.Trees(t, "../../examples") {
		c := exampleCoverage(t, site, tree)
		again, err := coverage.CoverageJSON(c)
		if err != nil || !bytes.Equal(again, tree["coverage.json"]) {
			t.Errorf("%s: coverage.json does not read back into the same document (%v)", site, err)
		}
		if d := coverage.CompareCoverage(c, c, "self"); len(d.Changes) > 0 || len(d.SiteChanges) > 0 {
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
	for site, tree := range testsite.Trees(t, "../../examples") {
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

// TestCoverageTextFitsTheTerminal: the text report, and a diff with many
// changes (one example against another), fit 100 columns.
func TestCoverageTextFitsTheTerminal(t *testing.T) {
	var all []coverage.Coverage
	for site, tree := range testsite.Trees(t, "../../examples") {
		all = append(all, exampleCoverage(t, site, tree))
	}
	slices.SortFunc(all, func(a, b coverage.Coverage) int { return strings.Compare(a.Site, b.Site) })
	check := func(what string, text []byte) {
		for i, line := range strings.Split(string(text), "\n") {
			if n := len([]rune(line)); n > 100 {
				t.Errorf("%s, line %d is %d columns wide: %s", what, i+1, n, line)
			}
		}
	}
	for i, c := range all {
		gate, err := coverage.CheckCoverage(c, "2099-01-01")
		if err != nil {
			t.Fatal(err)
		}
		c.Gate = &gate
		check(c.Site+" report", append([]byte(coverage.GateText(c.Gate)), coverage.CoverageText(c)...))
		other := all[(i+1)%len(all)]
		d := coverage.CompareCoverage(other, c, "other/coverage.json")
		d.WithLostCoverage(gate)
		if len(d.Changes) < 10 {
			t.Errorf("%s against %s: only %d changes", c.Site, other.Site, len(d.Changes))
		}
		check(c.Site+" diff", coverage.DiffText(d))
	}
}
