// Package generator turns a validated site into everything odbackup writes
// for it: the backup CronJobs and their scripts, RBAC, the snapshot class,
// restore Jobs and runbooks, plus the coverage report (generator/coverage).
//
// It owns the store kinds: one file each (kind_*.go) implementing Kind
// (kind.go), listed once in registry.go. The planner (generator/plan)
// chooses a store's kinds; everything here asks a step's kind (or reads its
// plan.Traits) rather than switching over methods.
//
// Everything here is pure: no I/O, no clock, no map iteration without
// sorting; the same site always gives byte-identical files. It must not
// plan (generator/plan does), load policies (schema does) or write files
// (internal/writetree does).
package generator
