// Package generator turns a validated site into everything odbackup writes:
// the plan (which store is backed up by which method in which CronJob, on
// which schedule, with which retention and permissions), the Kubernetes
// objects, the restore runbooks, the coverage report and the catalog's
// storage table.
//
// Everything here is pure: no I/O, no clock, no map iteration without
// sorting. The same site always gives byte-identical files.
package generator
