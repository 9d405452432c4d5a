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

// A target's restic repository is created once, before the first backup,
// by a Job of its own (RepositoryInitFile): never by the backups. Two
// restic init at once on S3 both succeed and leave two keys and one config,
// which only one of the two keys opens: a repository half of the jobs cannot
// open, found on a test S3 server in 2 of 5 tries. Jobs of a site start in
// the same minute, and sites may share a repository, so no backup creates
// one.

// RepositoryInitFile is the file, in a site's tree, of the Job that creates
// a target's repository; RepositoryInitJob is its name.
func RepositoryInitFile(target string) string { return "repository/" + target + ".yaml" }

// RepositoryInitJob names the Job that creates a target's repository.
func RepositoryInitJob(target string) string { return plan.DNSName(63, "odbackup-init", target) }

// resticOpen defines restic_open, run before every step that writes to a
// restic repository (backups and maintenance): it opens the repository
// once with restic cat config, bounded, so that a repository that is
// missing, unreachable or locked by a wrong password fails the step at
// once with a message that says which, before anything is dumped. restic
// retries an unreachable repository for 15 minutes per request; 124 is
// coreutils timeout's exit and 143 busybox timeout's (the restic image's),
// 10 restic's for a repository that does not exist, 12 for a wrong
// password. Opening costs one key derivation (about half a second),
// the price of never creating a repository here.
func resticOpen(target string) string {
	return fmt.Sprintf(`restic_open() {
	limit=${ODBACKUP_REPOSITORY_TIMEOUT:-300}
	rc=0
	said=$(timeout "$limit" restic cat config --no-lock 2>&1 >/dev/null) || rc=$?
	case $rc in
	0) return ;;
	10) echo "odbackup: the restic repository $RESTIC_REPOSITORY does not exist (restic exit 10). It is created once, before the first backup, by the Job %[1]s of %[2]s in the site's output folder (runbooks/README.md, step 1)" >&2 ;;
	12) echo "odbackup: the restic password does not open the repository $RESTIC_REPOSITORY (restic exit 12)" >&2 ;;
	124 | 143) echo "odbackup: the restic repository $RESTIC_REPOSITORY gave no answer within $limit s (ODBACKUP_REPOSITORY_TIMEOUT): the server is unreachable, or its bucket does not exist; on a new target, the Job %[1]s of %[2]s creates both" >&2 ;;
	*) echo "odbackup: cannot open the restic repository $RESTIC_REPOSITORY (restic exit $rc): $said" >&2 ;;
	esac
	exit 1
}
`, RepositoryInitJob(target), RepositoryInitFile(target))
}

// ResticInitScript is the script of the Job that creates a target's
// repository, once, before the first backup (RepositoryInitFile). It is
// safe to run again: restic init refuses an existing repository at once,
// and the script then checks that the password opens it (with restic cat
// config, so that a changed wording of init's refusal changes nothing).
// Bounded like every first contact (see resticOpen).
func ResticInitScript(target string) string {
	return Header("odbackup: create the restic repository of target "+target+" (once, before the first backup)") + `limit=${ODBACKUP_REPOSITORY_TIMEOUT:-300}
rc=0
said=$(timeout "$limit" restic init 2>&1) || rc=$?
if [ "$rc" -eq 0 ]; then
	echo "odbackup: created the restic repository $RESTIC_REPOSITORY"
	exit 0
fi
if [ "$rc" -ne 124 ] && [ "$rc" -ne 143 ]; then
	rc=0
	timeout "$limit" restic cat config --no-lock >/dev/null 2>&1 || rc=$?
	case $rc in
	0)
		echo "odbackup: the restic repository $RESTIC_REPOSITORY exists already and the password opens it; nothing to do"
		exit 0
		;;
	12)
		echo "odbackup: the restic repository $RESTIC_REPOSITORY exists, but the password does not open it (restic exit 12)" >&2
		exit 1
		;;
	esac
fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 143 ]; then
	echo "odbackup: the restic repository $RESTIC_REPOSITORY gave no answer within $limit s (ODBACKUP_REPOSITORY_TIMEOUT)" >&2
else
	echo "odbackup: cannot create the restic repository $RESTIC_REPOSITORY (restic exit $rc); restic init said: $said" >&2
fi
exit 1
`
}

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

// ResticScript starts a script that stores a step's data in restic: the
// header, the functions and the call that opens the repository.
func ResticScript(st *plan.Step, what string) *strings.Builder {
	b := new(strings.Builder)
	b.WriteString(Header(what))
	b.WriteString(resticOpen(st.TargetName))
	b.WriteString(ResticBackupFunc)
	b.WriteString("restic_open\n")
	return b
}

// ResticOpenScript starts a script that opens a target's repository before
// it works on it (the maintenance): the header and the call that opens it.
func ResticOpenScript(target, what string) *strings.Builder {
	b := new(strings.Builder)
	b.WriteString(Header(what))
	b.WriteString(resticOpen(target))
	b.WriteString("restic_open\n")
	return b
}

// SnapshotsCommand lists a store's restic snapshots.
func SnapshotsCommand(st *plan.Step) string {
	return fmt.Sprintf("restic snapshots --host=%s --tag=%s", Quote(st.Job.Site), Quote("store="+st.Store.ID))
}
