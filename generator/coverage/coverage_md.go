package coverage

import (
	"fmt"
	"strings"
	"time"

	"github.com/odbackup/odbackup/generator/diagram"
)

// snapshotNote says plainly what a CSI snapshot does and does not protect
// against; the report prints it wherever snapshots appear.
const snapshotNote = "A CSI snapshot lives on the same storage system as its volume: it protects against " +
	"deletion and corruption, not against the loss of that storage system."

// rpoNote says how RPO is computed.
const rpoNote = "RPO is the worst-case data loss the schedule allows: the longest gap between two runs " +
	"over a whole calendar cycle, in real time in the site's time zone (a daily job's worst case is 25 hours " +
	"where autumn's daylight-saving change adds an hour). " +
	"A restore drill restores the newest backup into scratch space and checks it (see the app's runbook)."

// CoverageMarkdown renders coverage.md: totals, a Mermaid diagram of apps
// and stores coloured by status, and one table per group of statuses.
func CoverageMarkdown(c Coverage) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Backup coverage: %s\n\n", c.Site)
	fmt.Fprintf(&b, "%s, namespace `%s`. Every store of the %s catalog is listed, those of other editions and releases included,"+
		" with the site's own apps. Schedules run in time zone %s.\n\n", siteWords(c), c.Namespace, c.Distribution, c.TimeZone)
	markdownTotals(&b, c)
	markdownDiagram(&b, c)
	markdownCovered(&b, c)
	markdownVolumes(&b, c)
	markdownWaived(&b, c)
	markdownUncovered(&b, c, "Not backed up", func(s CoverageStatus) bool { return s != CoverageCovered && s != CoverageWaived && inSite(s) })
	markdownUncovered(&b, c, "Not part of this site", func(s CoverageStatus) bool { return !inSite(s) })
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

func siteWords(c Coverage) string {
	return fmt.Sprintf("openDesk %s %s (distribution %s)", strings.ToUpper(c.Edition), c.Release, c.Distribution)
}

func markdownTotals(b *strings.Builder, c Coverage) {
	t := c.Totals
	b.WriteString("| stores |")
	for _, s := range coverageStatuses {
		if _, ok := t.ByStatus[s.status]; ok {
			fmt.Fprintf(b, " %s |", s.words)
		}
	}
	b.WriteString("\n|---:|")
	for _, s := range coverageStatuses {
		if _, ok := t.ByStatus[s.status]; ok {
			b.WriteString("---:|")
		}
	}
	fmt.Fprintf(b, "\n| %d |", t.Stores)
	for _, s := range coverageStatuses {
		if n, ok := t.ByStatus[s.status]; ok {
			fmt.Fprintf(b, " %d |", n)
		}
	}
	fmt.Fprintf(b, "\n\n%s\n\n", requiredWords(t))
	if t.SnapshotOnly > 0 {
		fmt.Fprintf(b, "%s %s\n\n", snapshotOnlyWords(t), snapshotNote)
	}
}

func requiredWords(t CoverageTotals) string {
	return fmt.Sprintf("Required stores of the deployed apps: %d, of which %d covered and %d waived.",
		t.Required, t.RequiredCovered, t.RequiredWaived)
}

func snapshotOnlyWords(t CoverageTotals) string {
	decided := ""
	if t.SnapshotOnlyDecided > 0 {
		decided = fmt.Sprintf(" (%d by decision: offsite: false)", t.SnapshotOnlyDecided)
	}
	if t.SnapshotOnly == 1 {
		return "1 covered store has only CSI snapshots, no copy off its storage system" + decided + "."
	}
	return fmt.Sprintf("%d covered stores have only CSI snapshots, no copy off their storage system%s.", t.SnapshotOnly, decided)
}

// volumeWords says where a covered volume's copies are and the RPO of
// each: the off-site copy's and the snapshots'.
func volumeWords(st *CoverageStore) string {
	var parts []string
	for _, bk := range st.Backups {
		where := "off-site"
		if bk.SameStorage {
			where = "on the volume's own storage"
		}
		parts = append(parts, fmt.Sprintf("%s %s, RPO %s", bk.Method, where, bk.rpoWords()))
	}
	return strings.Join(parts, "; ")
}

// markdownVolumes lists the covered volumes: copied off-site, or kept in
// snapshots only (by decision or not), with the RPO of each copy.
func markdownVolumes(b *strings.Builder, c Coverage) {
	var rows []string
	for _, as := range c.stores() {
		st := as.store
		if st.Status != CoverageCovered || st.Offsite == "" {
			continue
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s |", st.ID, cell(st.Content), st.Offsite.Words(), volumeWords(st)))
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("## Volumes\n\nWhether a copy of each covered volume leaves its storage system. An off-site copy clones the newest CSI snapshot and copies its files into restic; \"snapshot only (decided)\" is a volume the policy keeps in snapshots only (`offsite: false`).\n\n")
	b.WriteString("| Store | Content | Off-site | Copies and RPO |\n|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n"))
	b.WriteString("\n\n")
}

// mermaidClasses colour the diagram's stores by status; an undecided
// store is drawn as unprotected, which it is.
var mermaidClasses = []struct {
	status CoverageStatus
	style  diagram.Style
}{
	{CoverageCovered, diagram.Style{Name: "covered", Fill: "#c8e6c9", Stroke: "#2e7d32", Text: "#1b5e20"}},
	{CoverageWaived, diagram.Style{Name: "waived", Fill: "#fff3c4", Stroke: "#f9a825", Text: "#5d4300"}},
	{CoverageOptedOut, diagram.Style{Name: "optedOut", Fill: "#ffe0b2", Stroke: "#ef6c00", Text: "#6d3200"}},
	{CoverageNever, diagram.Style{Name: "never", Fill: "#eeeeee", Stroke: "#9e9e9e", Text: "#424242"}},
	{CoverageNotDeployed, diagram.Style{Name: "notDeployed", Fill: "#ffffff", Stroke: "#bdbdbd", Text: "#757575", Dashed: true}},
	{CoverageUnprotected, diagram.Style{Name: "unprotected", Fill: "#ffcdd2", Stroke: "#c62828", Text: "#b71c1c"}},
}

// markdownDiagram draws apps → stores. Stores of other editions and
// releases are in the tables only: they are not part of the site.
func markdownDiagram(b *strings.Builder, c Coverage) {
	b.WriteString("## Overview\n\nApps and their stores, coloured by status; stores of other editions and releases are listed below, not drawn.\n\n")
	g := diagram.New(diagram.Right)
	for _, m := range mermaidClasses {
		g.AddStyle(m.style)
	}
	for i, app := range c.Apps {
		drawn := false
		for j, st := range app.Stores {
			if st.Status == CoverageOtherEdition || st.Status == CoverageOtherRelease {
				continue
			}
			if !drawn {
				g.AddNode(fmt.Sprintf("a%d", i), app.Name, "", "")
				drawn = true
			}
			_, name, _ := strings.Cut(st.ID, "/")
			id := fmt.Sprintf("a%ds%d", i, j)
			g.AddNode(id, name+"\n"+st.Status.Words(), "", mermaidClass(st.Status))
			g.AddEdge(fmt.Sprintf("a%d", i), id)
		}
	}
	b.WriteString("```mermaid\n" + g.MustMermaid() + "```\n\n")
}

func mermaidClass(s CoverageStatus) string {
	if s == CoverageUndecided {
		s = CoverageUnprotected
	}
	for _, m := range mermaidClasses {
		if m.status == s {
			return m.style.Name
		}
	}
	return "never"
}

func markdownCovered(b *strings.Builder, c Coverage) {
	var rows, empty []string
	snapshots := false
	for _, as := range c.stores() {
		st := as.store
		if st.Status != CoverageCovered {
			continue
		}
		for _, bk := range st.Backups {
			target := bk.Target
			if bk.SameStorage {
				target, snapshots = "the volume's own storage ¹", true
			}
			rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | `%s` | `%s` | %s | %s | %s | %s |",
				st.ID, cell(st.Content), bk.Method, bk.CronJob, bk.Schedule, bk.rpoWords(), bk.Retention, target, bk.drillWords()))
		}
		if st.MayMatchNothing != "" {
			empty = append(empty, fmt.Sprintf("- `%s` (`%s`): %s.", st.ID, st.Identifier, st.MayMatchNothing))
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "## Covered\n\n%s\n\n", rpoNote)
	b.WriteString("| Store | Content | Method | CronJob | Schedule | RPO | Retention | Target | Restore drill |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n"))
	b.WriteString("\n\n")
	if snapshots {
		fmt.Fprintf(b, "¹ %s\n\n", snapshotNote)
	}
	if len(empty) > 0 {
		fmt.Fprintf(b, "These wildcards may match no database, and then their backup stores nothing and its log says so; any other wildcard that matches nothing fails its backup:\n\n%s\n\n", strings.Join(empty, "\n"))
	}
}

// drillWords is a backup's restore drill in a table cell.
func (bk CoverageBackup) drillWords() string {
	switch {
	case bk.Drill == nil:
		return "none"
	case bk.Drill.Off != "":
		return "**off**: " + cell(bk.Drill.Off)
	}
	return fmt.Sprintf("`%s` `%s`", bk.Drill.CronJob, bk.Drill.Schedule)
}

func (bk CoverageBackup) rpoWords() string {
	if bk.NeverRuns {
		return "never runs"
	}
	return FormatDuration(time.Duration(bk.RPOMinutes) * time.Minute)
}

func markdownWaived(b *strings.Builder, c Coverage) {
	var rows []string
	for _, as := range c.stores() {
		st := as.store
		if st.Status != CoverageWaived || st.Waiver == nil {
			continue
		}
		w := st.Waiver
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s | %s | %s |",
			st.ID, cell(st.Content), cell(w.Reason), w.Expires, cell(w.ApprovedBy), cell(w.Ticket)))
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("## Waived\n\nRequired stores left without backup on purpose, until the waiver expires.\n\n")
	b.WriteString("| Store | Content | Reason | Expires | Approved by | Ticket |\n|---|---|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n"))
	b.WriteString("\n\n")
}

func markdownUncovered(b *strings.Builder, c Coverage, title string, keep func(CoverageStatus) bool) {
	var rows []string
	for _, s := range coverageStatuses {
		if !keep(s.status) {
			continue
		}
		for _, as := range c.stores() {
			st := as.store
			if st.Status == s.status {
				rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s |", st.ID, cell(st.Content), s.words, cell(st.Why)))
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "## %s\n\n| Store | Content | Status | Why |\n|---|---|---|---|\n", title)
	b.WriteString(strings.Join(rows, "\n"))
	b.WriteString("\n\n")
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// mdCell escapes text for a table cell or list item whose text may quote
// a cron schedule, whose asterisks would otherwise start emphasis.
func mdCell(s string) string { return strings.ReplaceAll(cell(s), "*", `\*`) }

// markers mark a change's effect in Markdown; a change that fails the gate
// gets failMarker.
var markers = map[Effect]string{EffectWorse: "⚠️", EffectBetter: "✅", EffectNeutral: "ℹ️"}

const failMarker = "❌"

// GateMarkdown renders the gate's problems and notices; empty when there
// are none.
func GateMarkdown(g *CoverageGate) string {
	if g == nil {
		return ""
	}
	var b strings.Builder
	if len(g.Problems) > 0 {
		fmt.Fprintf(&b, "**The coverage gate fails** (as of %s):\n\n", g.Today)
		for _, p := range g.Problems {
			fmt.Fprintf(&b, "- %s `%s` — %s: %s\n", failMarker, p.Store, mdCell(p.Content), mdCell(p.Message))
		}
		b.WriteString("\n")
	}
	if len(g.Notices) > 0 {
		fmt.Fprintf(&b, "**Notices** (as of %s):\n\n", g.Today)
		for _, p := range g.Notices {
			fmt.Fprintf(&b, "- `%s` — %s: %s\n", p.Store, mdCell(p.Content), mdCell(p.Message))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// DiffMarkdown renders a coverage diff as a merge-request comment.
func DiffMarkdown(d CoverageDiff) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "## Backup coverage of %s: %s\n\nCompared with `%s`.\n\n", d.Site, changeCount(d.Changes), d.Base)
	for _, c := range d.SiteChanges {
		fmt.Fprintf(&b, "- %s\n", c)
	}
	if len(d.SiteChanges) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(GateMarkdown(d.Gate))
	if len(d.Changes) > 0 {
		b.WriteString("| | Store | Content | Change |\n|---|---|---|---|\n")
		for _, group := range groupChanges(d.Changes) {
			var changes []string
			for _, c := range group {
				changes = append(changes, fmt.Sprintf("**%s**: %s", c.Kind.Words(), mdCell(c.detailAndHint())))
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", groupMarker(group, markers, failMarker),
				group[0].Store, cell(group[0].Content), strings.Join(changes, "<br>"))
		}
		b.WriteString("\n")
	}
	if t := totalsDelta(d.BaseTotals, d.Totals); t != "" {
		fmt.Fprintf(&b, "Stores by status: %s.\n", t)
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

// totalsDelta lists the statuses whose count changed.
func totalsDelta(base, head CoverageTotals) string {
	var parts []string
	for _, s := range coverageStatuses {
		if b, h := base.ByStatus[s.status], head.ByStatus[s.status]; b != h {
			parts = append(parts, fmt.Sprintf("%s %d → %d", s.words, b, h))
		}
	}
	return strings.Join(parts, ", ")
}
