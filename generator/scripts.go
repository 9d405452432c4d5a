package generator

import (
	"fmt"
	"strings"
)

// The scripts below run in POSIX sh (busybox or dash). Everything that
// depends on where they run (hosts, ports, users, the repository, the
// namespace) comes from environment variables set on the container, so the
// end-to-end tests run the very same scripts against local servers by
// setting those variables. What identifies the data (tags, file names,
// store ids) is literal.

// resticPrepare defines restic_prepare, run before every step that writes
// to a restic repository (backups and maintenance).
//
// Every restic call that opens the repository derives its key anew
// (scrypt, calibrated to about half a second at init); the backup-path
// benchmark showed that fixed cost, so a backup makes exactly one such
// call, the backup itself.
//
// restic_prepare probes with restic init, which stops at the repository's
// config before deriving any key: on a new target it creates the
// repository (and its bucket; restic backup would retry a missing bucket
// for 15 minutes), on an existing one it fails at once saying so. Any
// other failure is looked at with restic cat config, a call that opens the
// repository, so a changed message costs a key derivation, never a backup.
// Each call is bounded: restic retries an unreachable repository for 15
// minutes per request, and 124 is timeout's exit. A job starting at the
// same time may create the repository first; its init then fails, and the
// check finds the repository.
const resticPrepare = `restic_prepare() {
	limit=${ODBACKUP_REPOSITORY_TIMEOUT:-300}
	rc=0
	probe=$(timeout "$limit" restic init 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "odbackup: created the restic repository $RESTIC_REPOSITORY (first run)"
		return
	fi
	case $probe in
	*"already initialized"* | *"already contains keys"*) return ;;
	esac
	if [ "$rc" -ne 124 ]; then
		rc=0
		timeout "$limit" restic cat config --no-lock >/dev/null || rc=$?
	fi
	if [ "$rc" -ne 0 ]; then
		echo "odbackup: cannot open the restic repository $RESTIC_REPOSITORY (restic exit $rc): no answer within $limit s, wrong credentials or wrong password; restic init said: $probe" >&2
		exit 1
	fi
}
`

// resticBackupFunc defines restic_backup, which every backup calls instead
// of restic backup. It runs restic backup without waiting for locks. A
// lock that blocks it (restic exit 11) may be stale, left by a killed run:
// restic unlock removes only stale locks, then the backup waits up to 10
// minutes for live ones (maintenance holds an exclusive lock while it
// prunes). The lock is taken before --stdin-from-command starts the dump,
// so a blocked attempt has dumped nothing. A pre-upgrade Job sets
// ODBACKUP_PRE_UPGRADE to the release it upgrades from (preupgrade.go), and
// the snapshot is tagged so.
const resticBackupFunc = `restic_backup() {
	if [ -n "${ODBACKUP_PRE_UPGRADE:-}" ]; then
		set -- --tag=pre-upgrade --tag="from=$ODBACKUP_PRE_UPGRADE" "$@"
	fi
	rc=0
	restic backup "$@" || rc=$?
	if [ "$rc" -eq 11 ]; then
		echo "odbackup: the restic repository $RESTIC_REPOSITORY is locked; removing stale locks, then waiting up to 10 minutes for live ones"
		restic unlock
		rc=0
		restic backup --retry-lock=10m "$@" || rc=$?
	fi
	if [ "$rc" -eq 12 ]; then
		echo "odbackup: the restic password does not open the repository $RESTIC_REPOSITORY (restic exit 12)" >&2
	elif [ "$rc" -ne 0 ]; then
		echo "odbackup: restic backup into $RESTIC_REPOSITORY failed (restic exit $rc)" >&2
	fi
	return "$rc"
}
`

// shq quotes s for a POSIX shell.
func shq(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// resticBackup is the restic_backup call that stores a command's stdout as one
// snapshot. --stdin-from-command makes a failed command leave no snapshot.
// Tags scope retention: forget --host <site> --tag store=<id> never touches
// another store's or another site's snapshots in a shared repository. The
// run= tag (see withRun) tells which snapshots one run of the job took.
func resticBackup(st *Step, filename string, extraTags []string, command string) string {
	tags := []string{"odbackup", "app=" + st.Store.App, "store=" + st.Store.ID, "run=$run"}
	tags = append(tags, extraTags...)
	var b strings.Builder
	fmt.Fprintf(&b, "restic_backup --host=%s", shq(st.Job.Site))
	for _, t := range tags {
		fmt.Fprintf(&b, " --tag=%s", shqTag(t))
	}
	fmt.Fprintf(&b, " \\\n\t--stdin-filename=%s --stdin-from-command -- \\\n\t%s\n", shqTag(filename), command)
	return b.String()
}

// shqTag quotes a word that may contain a shell variable reference.
func shqTag(s string) string {
	if strings.Contains(s, "$") {
		return `"` + s + `"`
	}
	return shq(s)
}

func scriptHeader(what string) string {
	return "set -eu\n# " + what + "\n"
}

// resticScript starts a script that stores data in restic: the header, the
// functions and the call that readies the repository.
func resticScript(what string) *strings.Builder {
	b := new(strings.Builder)
	b.WriteString(scriptHeader(what))
	b.WriteString(resticPrepare)
	b.WriteString(resticBackupFunc)
	b.WriteString("restic_prepare\n")
	return b
}

// maintenanceScript forgets each store's snapshots with its own retention,
// scoped to the site (--host) and the store (--tag), keeping pre-upgrade
// snapshots out of the GFS count and only the newest of them, then prunes
// and reads back a subset of the data.
func maintenanceScript(m *MaintenanceJob, site, subset string) string {
	b := new(strings.Builder)
	b.WriteString(scriptHeader("odbackup: restic maintenance of target " + m.TargetName))
	b.WriteString(resticPrepare)
	// forget and prune take an exclusive lock, which any stale lock
	// blocks; one key derivation more does not matter here.
	b.WriteString("restic_prepare\nrestic unlock\n")
	seen := map[string]bool{}
	for _, s := range m.Steps {
		if seen[s.Store.ID] {
			continue
		}
		seen[s.Store.ID] = true
		r := s.Retention
		fmt.Fprintf(b, "restic forget --retry-lock=1h --host=%s --tag=%s --group-by=host,paths --keep-daily=%d --keep-weekly=%d --keep-monthly=%d --keep-tag=%s\n",
			shq(site), shq("store="+s.Store.ID), r.Daily, r.Weekly, r.Monthly, preUpgradeTag)
		// The newest pre-upgrade backup of each file stays until the next
		// upgrade's replaces it: a failed upgrade is rolled back from it,
		// however long the upgrade took.
		fmt.Fprintf(b, "restic forget --retry-lock=1h --host=%s --tag=%s --group-by=host,paths --keep-last=1\n",
			shq(site), shq("store="+s.Store.ID+","+preUpgradeTag))
	}
	b.WriteString("restic prune --retry-lock=1h\n")
	fmt.Fprintf(b, "restic check --retry-lock=1h --read-data-subset=%s\n", shq(subset))
	return b.String()
}

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
	// The header is the script's first two lines (scriptHeader).
	i := strings.Index(script, "\n")
	j := strings.Index(script[i+1:], "\n") + i + 1
	record := shq(storeID + " (container " + container + ")")
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
`, runDir, newRunID, record, shq(storeID)) + script[j+1:]
}

// runStartScript starts a job's run: its id and an empty record.
func runStartScript(job string) string {
	return scriptHeader("odbackup: start of a run of job "+job) + fmt.Sprintf(`%[1]s
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
	return scriptHeader("odbackup: result of a run of job "+job) + fmt.Sprintf(`%[1]s
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
