// Package plan decides, for a validated site, what odbackup generates: which
// store is backed up by which method in which CronJob, on which schedule,
// with which retention and target, and which restic maintenance jobs run.
//
// It owns the plan's types (Plan, Job, Step, MaintenanceJob), the planner
// (New) and retention semantics (Kept). It is pure: no I/O, no clock, no map
// iteration without sorting. It must not emit anything (no YAML, no
// Markdown, no scripts): the emitters read the plan, the plan never reads
// them.
package plan
