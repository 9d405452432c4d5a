// Package kinds owns the store kinds: every way odbackup backs up a store,
// one file each (kind_<name>.go) with everything generated for it (the
// backup container and script, its RBAC rules, the restore container,
// script, pod and rules, the runbook's section, words and checks, the
// retention it keeps, its drill), behind the interface Kind (kind.go) and
// listed once in the registry (registry.go). Nothing outside this package
// switches over kinds: the planner, the generator, the runbooks and the
// coverage report ask a step's kind.
//
// It also names and builds the restore Jobs' containers (restore.go), the
// one place where a step becomes a restore.
//
// It is pure: no I/O, no clock. It must not assemble a site's tree
// (generator does), render whole runbooks (generator/runbook does) or
// plan (generator/plan does).
package kinds
