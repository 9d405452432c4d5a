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
}
