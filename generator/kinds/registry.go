package kinds

import (
	"slices"

	"github.com/odbackup/odbackup/generator/plan"
)

// registry is every kind of backup odbackup knows, the one place that lists
// them. Its order is the order of a store's steps (a logical export after
// the store's own kind) and of the kinds' words in a runbook's glossary.
var registry = []Kind{
	objectExport{},
	postgresDump{},
	mariadbDump{},
	cassandraSnapshot{},
	redisRDB{},
	bucketMirror{},
	csiSnapshot{},
	offsiteCopy{},
	execExport{},
}

// All is every kind odbackup knows, in the registry's order.
func All() []Kind { return slices.Clone(registry) }

// PlanKinds is a list of kinds as the planner takes it.
func PlanKinds(kinds []Kind) []plan.Kind {
	out := make([]plan.Kind, len(kinds))
	for i, k := range kinds {
		out[i] = k
	}
	return out
}
