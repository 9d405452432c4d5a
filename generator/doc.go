// Package generator turns a validated site into everything odbackup writes
// for it: it plans the site (generator/plan) and assembles the tree, the
// backup and maintenance CronJobs, drills, RBAC rules and admission
// policies, the snapshot class, restore Jobs, pre-upgrade Jobs, alert
// rules, the kustomization, the runbooks (generator/runbook) and the
// coverage report (generator/coverage).
//
// What is specific to a kind of store is not here: every step's container,
// script, rules, restore and runbook words come from its kind
// (generator/kinds), which this package asks and never switches over.
//
// Everything here is pure: no I/O, no clock, no map iteration without
// sorting; the same site always gives byte-identical files. It must not
// plan (generator/plan does), load policies (schema does) or write files
// (internal/writetree does).
package generator
