// Package coverage owns the backup coverage report of a site: what each
// store of the catalog gets (backed up how and how often, or why not), as
// coverage.json (odbackup.coverage/v1) and coverage.md, the comparison of
// two reports (diff) and the gate on expiring waivers.
//
// It reads a plan and writes bytes; it is pure (no I/O, no clock: the gate
// is given its day). It must not plan (it reports the plan's decisions) and
// must not emit manifests or runbooks.
package coverage
