package generator

import (
	"fmt"
	"strings"

	"github.com/odbackup/odbackup/generator/shell"
)

// maintenanceScript forgets each store's snapshots with its own retention,
// scoped to the site (--host) and the store (--tag), keeping pre-upgrade
// snapshots out of the GFS count and only the newest of them, then prunes
// and reads back a subset of the data.
func maintenanceScript(m *MaintenanceJob, site, subset string) string {
	b := shell.ResticOpenScript(m.TargetName, "odbackup: restic maintenance of target "+m.TargetName)
	b.WriteString(resticForgetFunc)
	// forget and prune take an exclusive lock, which any stale lock
	// blocks; one key derivation more does not matter here.
	b.WriteString("restic unlock\n")
	seen := map[string]bool{}
	for _, s := range m.Steps {
		if seen[s.Store.ID] {
			continue
		}
		seen[s.Store.ID] = true
		r := s.Retention
		fmt.Fprintf(b, "restic_forget --retry-lock=1h --host=%s --tag=%s --group-by=host,paths --keep-daily=%d --keep-weekly=%d --keep-monthly=%d --keep-tag=%s\n",
			shell.Quote(site), shell.Quote("store="+s.Store.ID), r.Daily, r.Weekly, r.Monthly, shell.PreUpgradeTag)
		// The newest pre-upgrade backup of each file stays until the next
		// upgrade's replaces it: a failed upgrade is rolled back from it,
		// however long the upgrade took.
		fmt.Fprintf(b, "restic_forget --retry-lock=1h --host=%s --tag=%s --group-by=host,paths --keep-last=1\n",
			shell.Quote(site), shell.Quote("store="+s.Store.ID+","+shell.PreUpgradeTag))
	}
	b.WriteString("restic prune --retry-lock=1h\n")
	fmt.Fprintf(b, "restic check --retry-lock=1h --read-data-subset=%s\n", shell.Quote(subset))
	return b.String()
}

// resticForgetFunc defines restic_forget, which the maintenance calls
// instead of restic forget. restic 0.18.1 forget reports a snapshot it
// could not remove ("unable to remove snapshot/<id> from the
// repository") and still exits 0 (cmd/restic/cmd_forget.go ignores
// ParallelRemove's errors); the prune after it then finds nothing to
// delete and succeeds too. With credentials that may not delete (the
// backups' append-only key in the maintenance's Secret by mistake) the
// maintenance would be green every week and keep every snapshot forever.
// restic_forget fails instead, saying why.
const resticForgetFunc = `restic_forget() {
	said="${TMPDIR:-/tmp}/odbackup-forget.err"
	rc=0
	restic forget "$@" 2>"$said" || rc=$?
	cat "$said" >&2
	if [ "$rc" -eq 0 ] && grep -q '^unable to remove snapshot/' "$said"; then
		echo "odbackup: restic forget could not remove the snapshots it forgot (above): the maintenance's credentials may not delete in $RESTIC_REPOSITORY (are they the backups' append-only ones?)" >&2
		rc=1
	fi
	rm -f "$said"
	return "$rc"
}
`

// A backup job's pod runs its steps as init containers, in order, and
// Kubernetes stops a pod at its first failing init container. So that one
// failing store does not cost the others their backup, a job of more than
// one step runs as a run: its first container (runStartScript) makes the
// run's record in the pod's emptyDir (an id, and the stores that failed);
// a step that fails adds its store to the record and exits 0, so the next
// step runs; the last container (runResultScript) fails the Job naming
// every store that failed. A step run on its own (no record: a job of one
// step) fails as it always did.

// runDir is the run's record in the pod's emptyDir, shared by its
// containers.
const runDir = `run_dir=${TMPDIR:-/tmp}/odbackup-run`

// newRunID is an id unique to one run: its start time, sortable, and a
// random part for runs that start in the same second.
const newRunID = `$(date -u +%Y%m%dT%H%M%SZ)-$(cut -c 1-8 /proc/sys/kernel/random/uuid)`

// withRun adds to a step's script, after its header, what every backup
// step does: it takes the run's id (restic tags each snapshot with it) and
// traps its own end, so that a failure runs the step's on_failure (which a
// kind may define to clean up) and, in a run, is recorded for the run's
// result instead of stopping the pod.
func withRun(script, storeID, container string) string {
	// The header is the script's first two lines (shell.Header).
	i := strings.Index(script, "\n")
	j := strings.Index(script[i+1:], "\n") + i + 1
	record := shell.Quote(storeID + " (container " + container + ")")
	return script[:j+1] + fmt.Sprintf(`%[1]s
# shellcheck disable=SC2034 # run tags restic snapshots; not every step takes any
if [ -f "$run_dir/id" ]; then
	run=$(cat "$run_dir/id")
else
	run=%[2]s
fi
# shellcheck disable=SC2317 # a kind may define it again, to clean up
on_failure() { :; }
step_end() {
	rc=$?
	if [ "$rc" -ne 0 ]; then
		on_failure || true
		if [ -f "$run_dir/id" ]; then
			echo %[3]s >>"$run_dir/failed"
			printf 'odbackup: %%s failed (exit %%s); the job goes on with its other steps and fails at its end\n' %[4]s "$rc" >&2
			exit 0
		fi
	fi
}
trap step_end EXIT
`, runDir, newRunID, record, shell.Quote(storeID)) + script[j+1:]
}

// runStartScript starts a job's run: its id and an empty record.
func runStartScript(job string) string {
	return shell.Header("odbackup: start of a run of job "+job) + fmt.Sprintf(`%[1]s
rm -rf "$run_dir"
mkdir -p "$run_dir"
echo "%[2]s" >"$run_dir/id"
echo "odbackup: run $(cat "$run_dir/id") of job %[3]s"
`, runDir, newRunID, job)
}

// runResultScript ends a job's run: it fails naming every store that
// failed, and where to read why. Without a record no step recorded a
// failure: a step that fails where no record is stops the pod itself.
func runResultScript(job string) string {
	return shell.Header("odbackup: result of a run of job "+job) + fmt.Sprintf(`%[1]s
run=$(cat "$run_dir/id" 2>/dev/null) || run="(no record)"
if [ -s "$run_dir/failed" ]; then
	echo "odbackup: run $run of job %[2]s: $(wc -l <"$run_dir/failed") store(s) failed; the other stores were backed up. The log of each failed store's container says why:" >&2
	sed 's/^/  /' "$run_dir/failed" >&2
	rm -rf "$run_dir"
	exit 1
fi
rm -rf "$run_dir"
echo "odbackup: run $run of job %[2]s: every store was backed up"
`, runDir, job)
}
