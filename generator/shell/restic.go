// Package shell owns the POSIX sh that every generated script shares:
// quoting, script headers, the restic functions that prepare a repository,
// back up into it and stream a snapshot out of it, and the checks a
// restore makes before it writes. Kinds (generator/kinds) build their
// scripts from these pieces.
//
// It only builds strings: no I/O, and nothing about Kubernetes objects.
package shell

import (
	"fmt"
	"strings"

	"github.com/odbackup/odbackup/generator/plan"
)

// The scripts below run in POSIX sh (busybox or dash). Everything that
// depends on where they run (hosts, ports, users, the repository, the
// namespace) comes from environment variables set on the container, so the
// end-to-end tests run the very same scripts against local servers by
// setting those variables. What identifies the data (tags, file names,
// store ids) is literal.

// ResticPrepare defines restic_prepare, run before every step that writes
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
const ResticPrepare = `restic_prepare() {
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

// PreUpgradeTag is the restic tag of every pre-upgrade snapshot; the
// maintenance keeps the newest of each store out of the GFS count.
const PreUpgradeTag = "pre-upgrade"

// EnvPreUpgrade tells restic_backup to tag the snapshot as taken before an
// upgrade from the release it holds (a pre-upgrade Job sets it).
const EnvPreUpgrade = "ODBACKUP_PRE_UPGRADE"

// ResticBackupFunc defines restic_backup, which every backup calls instead
// of restic backup. It runs restic backup without waiting for locks. A
// lock that blocks it (restic exit 11) may be stale, left by a killed run:
// restic unlock removes only stale locks, then the backup waits up to 10
// minutes for live ones (maintenance holds an exclusive lock while it
// prunes). The lock is taken before --stdin-from-command starts the dump,
// so a blocked attempt has dumped nothing. A pre-upgrade Job sets
// ODBACKUP_PRE_UPGRADE to the release it upgrades from (generator/preupgrade.go), and
// the snapshot is tagged so.
const ResticBackupFunc = `restic_backup() {
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

// Quote quotes s for a POSIX shell.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ResticBackup is the restic_backup call that stores a command's stdout as one
// snapshot. --stdin-from-command makes a failed command leave no snapshot.
// Tags scope retention: forget --host <site> --tag store=<id> never touches
// another store's or another site's snapshots in a shared repository. The
// run= tag (see withRun) tells which snapshots one run of the job took.
func ResticBackup(st *plan.Step, filename string, extraTags []string, command string) string {
	tags := []string{"odbackup", "app=" + st.Store.App, "store=" + st.Store.ID, "run=$run"}
	tags = append(tags, extraTags...)
	var b strings.Builder
	fmt.Fprintf(&b, "restic_backup --host=%s", Quote(st.Job.Site))
	for _, t := range tags {
		fmt.Fprintf(&b, " --tag=%s", QuoteTag(t))
	}
	fmt.Fprintf(&b, " \\\n\t--stdin-filename=%s --stdin-from-command -- \\\n\t%s\n", QuoteTag(filename), command)
	return b.String()
}

// QuoteTag quotes a word that may contain a shell variable reference.
func QuoteTag(s string) string {
	if strings.Contains(s, "$") {
		return `"` + s + `"`
	}
	return Quote(s)
}

// Header starts every generated script: exit on the first error or unset
// variable, and a comment saying what the script does.
func Header(what string) string {
	return "set -eu\n# " + what + "\n"
}

// ResticScript starts a script that stores data in restic: the header, the
// functions and the call that readies the repository.
func ResticScript(what string) *strings.Builder {
	b := new(strings.Builder)
	b.WriteString(Header(what))
	b.WriteString(ResticPrepare)
	b.WriteString(ResticBackupFunc)
	b.WriteString("restic_prepare\n")
	return b
}

// SnapshotsCommand lists a store's restic snapshots.
func SnapshotsCommand(st *plan.Step) string {
	return fmt.Sprintf("restic snapshots --host=%s --tag=%s", Quote(st.Job.Site), Quote("store="+st.Store.ID))
}
