package coverage

import (
	"fmt"
	"strings"
)

// TextWidth is the width of a terminal the text formats fit.
const TextWidth = 100

// CoverageText renders the coverage report for a terminal: each store on
// one line with its content, the details indented below it, every line
// wrapped to TextWidth.
func CoverageText(c Coverage) []byte {
	t := c.Totals
	var b strings.Builder
	fmt.Fprintf(&b, "Backup coverage: %s\n", c.Site)
	wrap(&b, "", "", fmt.Sprintf("%s, namespace %s, time zone %s", siteWords(c), c.Namespace, c.TimeZone))
	counts := []string{}
	for _, s := range coverageStatuses {
		if n, ok := t.ByStatus[s.status]; ok {
			counts = append(counts, fmt.Sprintf("%d %s", n, s.words))
		}
	}
	wrap(&b, "", "", fmt.Sprintf("%d stores: %s.", t.Stores, strings.Join(counts, ", ")))
	wrap(&b, "", "", requiredWords(t))
	if t.SnapshotOnly > 0 {
		wrap(&b, "", "", snapshotOnlyWords(t))
	}
	for _, s := range coverageStatuses {
		var entries []appStore
		for _, as := range c.stores() {
			if as.store.Status == s.status {
				entries = append(entries, as)
			}
		}
		if len(entries) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s (%d)\n", strings.ToUpper(s.words[:1])+s.words[1:], len(entries))
		for _, as := range entries {
			st := as.store
			wrap(&b, "  ", "    ", st.Label())
			for _, line := range textDetails(st) {
				wrap(&b, "      ", "        ", line)
			}
		}
	}
	b.WriteString("\n")
	wrap(&b, "", "", rpoNote)
	if t.ByStatus[CoverageCovered] > 0 {
		wrap(&b, "", "", snapshotNote)
	}
	return []byte(b.String())
}

// textDetails are the lines under a store: one per backup, or the waiver,
// or why it goes without backup.
func textDetails(st *CoverageStore) []string {
	var lines []string
	for _, bk := range st.Backups {
		where := "to target " + bk.Target
		if bk.SameStorage {
			where = "on the volume's own storage"
		}
		lines = append(lines, fmt.Sprintf("%s, CronJob %s at %q, RPO %s, keeps %s, %s",
			bk.Method, bk.CronJob, bk.Schedule, bk.rpoWords(), bk.Retention, where))
	}
	if st.Offsite != "" {
		lines = append(lines, st.Offsite.Words())
	}
	if w := st.Waiver; w != nil {
		lines = append(lines, waiverWords(w))
	}
	if st.Why != "" {
		lines = append(lines, st.Why)
	}
	return lines
}

// wrap writes text as lines of at most TextWidth characters, breaking at
// spaces; the first line starts with first, the others with rest.
func wrap(b *strings.Builder, first, rest, text string) {
	line, empty := first, true
	for _, word := range strings.Fields(text) {
		switch {
		case empty:
			line += word
		case len([]rune(line))+1+len([]rune(word)) > TextWidth:
			b.WriteString(line + "\n")
			line = rest + word
		default:
			line += " " + word
		}
		empty = false
	}
	b.WriteString(line + "\n")
}

// textMarkers mark a change's effect in the text format.
var textMarkers = map[Effect]string{EffectWorse: "worse", EffectBetter: "better", EffectNeutral: "note"}

// GateText renders the gate's problems and notices for a terminal.
func GateText(g *CoverageGate) string {
	if g == nil {
		return ""
	}
	var b strings.Builder
	if len(g.Problems) > 0 {
		fmt.Fprintf(&b, "The coverage gate fails (as of %s):\n", g.Today)
		for _, p := range g.Problems {
			wrap(&b, "  FAIL ", "       ", p.String())
		}
	}
	if len(g.Notices) > 0 {
		fmt.Fprintf(&b, "Notices (as of %s):\n", g.Today)
		for _, p := range g.Notices {
			wrap(&b, "  - ", "    ", p.String())
		}
	}
	return b.String()
}

// DiffText renders a coverage diff for a terminal.
func DiffText(d CoverageDiff) []byte {
	var b strings.Builder
	wrap(&b, "", "  ", fmt.Sprintf("Backup coverage of %s compared with %s: %s", d.Site, d.Base, changeCount(d.Changes)))
	for _, c := range d.SiteChanges {
		wrap(&b, "  ", "    ", c)
	}
	if g := GateText(d.Gate); g != "" {
		b.WriteString("\n" + g)
	}
	if len(d.Changes) > 0 {
		b.WriteString("\n")
	}
	for _, group := range groupChanges(d.Changes) {
		wrap(&b, fmt.Sprintf("%-6s ", groupMarker(group, textMarkers, "FAIL")), "         ", group[0].Store+" — "+group[0].Content)
		for _, c := range group {
			wrap(&b, "         ", "           ", c.Kind.Words()+": "+c.detailAndHint())
		}
	}
	if t := totalsDelta(d.BaseTotals, d.Totals); t != "" {
		b.WriteString("\n")
		wrap(&b, "", "  ", "Stores by status: "+t+".")
	}
	return []byte(b.String())
}
