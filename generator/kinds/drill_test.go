package kinds

import (
	"testing"

	"github.com/odbackup/odbackup/generator/plan"
)

// TestPlannedDrillsHaveDrillMethods: the planner plans a drill for every
// kind that implements plan.DrillKind; the generator and the runbooks then
// need all of DrillKind. A kind with only the planner's half would fail
// every build of a site that has it, with a panic.
func TestPlannedDrillsHaveDrillMethods(t *testing.T) {
	drilled := 0
	for _, k := range registry {
		if _, planned := k.(plan.DrillKind); !planned {
			continue
		}
		drilled++
		if _, ok := k.(DrillKind); !ok {
			t.Errorf("%T implements plan.DrillKind but not kinds.DrillKind (DrillContainer, DrillChecks, DrillNoun)", k)
		}
	}
	if drilled == 0 || len(DrillNouns()) != drilled {
		t.Errorf("%d kinds are drilled, DrillNouns names %d", drilled, len(DrillNouns()))
	}
}
