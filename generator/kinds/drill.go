package kinds

import (
	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/plan"
)

// DrillKind is a Kind whose backups a drill restores and checks.
type DrillKind interface {
	Kind
	plan.DrillKind
	// DrillContainer decides image, script, environment and user of the
	// drill's container for a step; the caller names it and adds restic's
	// environment.
	DrillContainer(g *manifest.Builder, st *plan.Step) manifest.Container
	// DrillChecks says what the drill checks, for the runbooks and the
	// coverage report.
	DrillChecks(st *plan.Step) string
	// DrillNoun names, in a runbook's words, the backups this kind
	// drills, e.g. "PostgreSQL dumps".
	DrillNoun() string
}

// DrillNouns names every kind of backup that is drilled, in the
// registry's order: a runbook says so where a step has no drill.
func DrillNouns() []string {
	var out []string
	for _, k := range registry {
		if d, ok := k.(DrillKind); ok {
			out = append(out, d.DrillNoun())
		}
	}
	return out
}
