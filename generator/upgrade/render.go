package upgrade

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/odbackup/odbackup/generator/coverage"
)

var changeMarks = map[Change]string{Appears: "+", Disappears: "-", Changes: "~"}

// Text renders the report for a terminal.
func Text(r Report) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Upgrade of site %s (%s %s): %s → %s\n", r.Site, r.Distribution, r.Edition, r.From, r.To)
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s\n", title)
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	var apps, stores, workloads []string
	for _, a := range r.Apps {
		apps = append(apps, fmt.Sprintf("%s %s (%s) %s", changeMarks[a.Change], a.App, a.Name, a.Change))
	}
	for _, s := range r.Stores {
		stores = append(stores, fmt.Sprintf("%s %s (%s) %s: %s — %s", changeMarks[s.Change], s.Store, s.Class, s.Change, s.Content, s.Detail))
	}
	for _, w := range r.Workloads {
		workloads = append(workloads, fmt.Sprintf("%s %s: %s %s %s: %s", changeMarks[w.Change], w.App, w.Kind, w.Name, w.Change, w.Detail))
	}
	if r.ReleaseKnown && len(apps)+len(stores)+len(workloads) == 0 {
		fmt.Fprintf(&b, "\nNo store or workload of this site changes between %s and %s.\n", r.From, r.To)
	}
	section("Apps:", apps)
	section("Stores:", stores)
	section("Workloads a restore stops:", workloads)
	if len(r.Decisions) > 0 {
		fmt.Fprintf(&b, "\nBefore the policy is valid at %s (what odbackup vet says with release: %q):\n", r.To, r.To)
		for _, d := range r.Decisions {
			for _, line := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
				fmt.Fprintf(&b, "  %s\n", line)
			}
		}
	}
	if r.Coverage != nil {
		fmt.Fprintf(&b, "\nCoverage at %s compared with %s:\n", r.To, r.From)
		for _, line := range strings.Split(strings.TrimRight(string(coverage.DiffText(*r.Coverage)), "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	b.WriteString("\n" + nextStep(r) + "\n")
	return b.Bytes()
}

// Markdown renders the report for the merge request of the bump.
func Markdown(r Report) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "## openDesk upgrade of `%s`: %s → %s\n\n", r.Site, r.From, r.To)
	fmt.Fprintf(&b, "%s %s.\n", r.Distribution, r.Edition)
	if r.ReleaseKnown && len(r.Apps)+len(r.Stores)+len(r.Workloads) == 0 {
		fmt.Fprintf(&b, "\nNo store or workload of this site changes between %s and %s.\n", r.From, r.To)
	}
	if len(r.Apps) > 0 {
		b.WriteString("\n### Apps\n\n| | app | change |\n|---|---|---|\n")
		for _, a := range r.Apps {
			fmt.Fprintf(&b, "| %s | %s (`%s`) | %s |\n", changeMarks[a.Change], cell(a.Name), a.App, a.Change)
		}
	}
	if len(r.Stores) > 0 {
		b.WriteString("\n### Stores\n\n| | store | class | change | content | detail |\n|---|---|---|---|---|---|\n")
		for _, s := range r.Stores {
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", changeMarks[s.Change], s.Store, s.Class, s.Change, cell(s.Content), cell(s.Detail))
		}
	}
	if len(r.Workloads) > 0 {
		b.WriteString("\n### Workloads a restore stops\n\n| | app | workload | change | detail |\n|---|---|---|---|---|\n")
		for _, w := range r.Workloads {
			fmt.Fprintf(&b, "| %s | %s | %s `%s` | %s | %s |\n", changeMarks[w.Change], w.App, w.Kind, w.Name, w.Change, cell(w.Detail))
		}
	}
	if len(r.Decisions) > 0 {
		fmt.Fprintf(&b, "\n### Decisions before the policy is valid at %s\n\n```text\n", r.To)
		for _, d := range r.Decisions {
			b.WriteString(strings.TrimRight(d, "\n") + "\n")
		}
		b.WriteString("```\n")
	}
	if r.Coverage != nil {
		fmt.Fprintf(&b, "\n### Coverage at %s compared with %s\n\n", r.To, r.From)
		md := string(coverage.DiffMarkdown(*r.Coverage))
		// The diff's own heading would nest under ours one level too high.
		md = strings.ReplaceAll(md, "\n## ", "\n#### ")
		if strings.HasPrefix(md, "## ") {
			md = "#### " + md[3:]
		}
		b.WriteString(md)
	}
	b.WriteString("\n" + nextStep(r) + "\n")
	return b.Bytes()
}

// JSON renders the report as odbackup.upgrade/v1.
func JSON(r Report) ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

func nextStep(r Report) string {
	if !r.Valid {
		return fmt.Sprintf("The policy is not valid at %s: make the decisions above, set release: %q, then odbackup vet and build. Take the pre-upgrade backups first (runbooks/upgrade.md).", r.To, r.To)
	}
	return fmt.Sprintf("The policy is valid at %s as it is. Take the pre-upgrade backups (runbooks/upgrade.md), upgrade openDesk, then set release: %q and run odbackup build.", r.To, r.To)
}

func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
