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
// so a blocked attempt has dumped nothing.
const resticBackupFunc = `restic_backup() {
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
// another store's or another site's snapshots in a shared repository.
func resticBackup(st *Step, filename string, extraTags []string, command string) string {
	tags := []string{"odbackup", "app=" + st.Store.App, "store=" + st.Store.ID}
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

func pgDumpScript(st *Step) string {
	c := st.Store.Connection
	b := resticScript(fmt.Sprintf("odbackup: PostgreSQL database %s (%s)", c.Database, st.Store.ID))
	b.WriteString(`echo "odbackup: pg_dump of database $PGDATABASE on $PGHOST:$PGPORT"` + "\n")
	// pg_dump writes its output through stdio, which flushes every 4 KiB
	// into a pipe (glibc; musl every 1 KiB): a 1 GiB dump wakes restic a
	// quarter of a million times. stdbuf (coreutils, in the Debian images
	// odbackup uses) gives it a 1 MiB buffer; the backup-path benchmark
	// measured the job about 9% faster with it. An image without stdbuf
	// still works, unbuffered.
	b.WriteString("buffer=\nif command -v stdbuf >/dev/null 2>&1; then\n\tbuffer=--output=1M\nfi\n")
	// --compress=0: restic deduplicates and compresses (zstd) itself;
	// a compressed dump would defeat deduplication between nights.
	b.WriteString(resticBackup(st, c.Database+".pgdump", nil,
		`${buffer:+stdbuf "$buffer"} pg_dump --format=custom --compress=0 --no-password --dbname="$PGDATABASE"`))
	return b.String()
}

// likePattern turns a catalog wildcard ("PRIMARYDB_*") into a LIKE pattern
// matching it literally ("PRIMARYDB\_%").
func likePattern(name string) string {
	r := strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`)
	return r.Replace(strings.TrimSuffix(name, "*")) + "%"
}

func mariadbDumpScript(st *Step) string {
	c := st.Store.Connection
	b := resticScript(fmt.Sprintf("odbackup: MariaDB database(s) %s (%s)", c.Database, st.Store.ID))
	client := `--host="$MARIADB_HOST" --port="$MARIADB_PORT" --user="$MARIADB_USER"`
	if strings.HasSuffix(c.Database, "*") {
		fmt.Fprintf(b, "pattern=%s\n", shq(likePattern(c.Database)))
		fmt.Fprintf(b, "databases=$(mariadb %s --batch --skip-column-names --execute=\"SHOW DATABASES LIKE '$pattern'\")\n", client)
		fmt.Fprintf(b, "if [ -z \"$databases\" ]; then\n\techo \"odbackup: warning: no database on $MARIADB_HOST matches %s; nothing to back up\" >&2\n\texit 0\nfi\n", c.Database)
	} else {
		fmt.Fprintf(b, "databases=%s\n", shq(c.Database))
	}
	b.WriteString("for db in $databases; do\n")
	b.WriteString("\techo \"odbackup: mariadb-dump of database $db on $MARIADB_HOST:$MARIADB_PORT\"\n\t")
	b.WriteString(strings.ReplaceAll(resticBackup(st, "$db.sql", []string{"database=$db"},
		"mariadb-dump "+client+` --single-transaction --routines --events --triggers --databases "$db"`), "\n\t", "\n\t\t"))
	b.WriteString("done\n")
	return b.String()
}

func redisScript(st *Step) string {
	b := resticScript("odbackup: Redis RDB snapshot (" + st.Store.ID + ")")
	b.WriteString(`echo "odbackup: redis-cli --rdb from $REDIS_HOST:$REDIS_PORT"` + "\n")
	// redis-cli removes the EOF mark of a diskless transfer only from a
	// file (it truncates it at the end), never from stdout: stage the RDB
	// in the pod's /tmp, then stream it. The inner shell expands the
	// variables, hence the single quotes.
	b.WriteString("# shellcheck disable=SC2016\n")
	b.WriteString(resticBackup(st, "dump.rdb", nil,
		`sh -c 'redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning --rdb /tmp/dump.rdb >&2 && cat /tmp/dump.rdb && rm -f /tmp/dump.rdb'`))
	return b.String()
}

func objectExportScript(st *Step) string {
	kind := st.Store.Kind
	name := st.Store.Connection.Name
	b := resticScript(fmt.Sprintf("odbackup: %s %s (%s)", kind, name, st.Store.ID))
	b.WriteString(resticBackup(st, kind+"-"+name+".yaml", nil,
		fmt.Sprintf(`kubectl --namespace="$ODBACKUP_NAMESPACE" get %s %s --output=yaml`, kind, shq(name))))
	return b.String()
}

func execExportScript(st *Step) string {
	e := st.Store.Export
	b := resticScript(fmt.Sprintf("odbackup: %s in pod %s (%s)", e.Command, e.Pod, st.Store.ID))
	b.WriteString(resticBackup(st, e.Filename, []string{"export=" + e.Filename},
		fmt.Sprintf(`kubectl --namespace="$ODBACKUP_NAMESPACE" exec %s --container=%s -- %s`, shq(e.Pod), shq(e.Container), e.Command)))
	return b.String()
}

// cassandraScript flushes the keyspace, snapshots it with nodetool in the
// Cassandra pod and streams the snapshot directories (SSTables and each
// table's schema.cql) as a tar into restic; the snapshot is cleared on the
// node afterwards, and before, in case a killed run left one.
func cassandraScript(st *Step) string {
	c := st.Store.Connection
	ks := c.Keyspace
	inner := fmt.Sprintf("set -e; nodetool clearsnapshot -t odbackup -- %[1]s >&2; nodetool flush %[1]s >&2; nodetool snapshot -t odbackup %[1]s >&2; "+
		"cd %[2]s/%[1]s; tar -cf - */snapshots/odbackup; nodetool clearsnapshot -t odbackup -- %[1]s >&2", ks, strings.TrimRight(c.DataDir, "/"))
	b := resticScript(fmt.Sprintf("odbackup: Cassandra keyspace %s (%s)", ks, st.Store.ID))
	b.WriteString(resticBackup(st, ks+".tar", []string{"keyspace=" + ks},
		fmt.Sprintf(`kubectl --namespace="$ODBACKUP_NAMESPACE" exec %s --container=%s -- sh -c %s`, shq(c.Pod), shq(c.Container), shq(inner))))
	return b.String()
}

// bucketMirrorScript copies a bucket into an rclone crypt remote on the
// target: "current" mirrors the bucket; objects the sync replaces or
// deletes move to "archive/<run time>" and are kept for the step's
// ArchiveDays.
func bucketMirrorScript(st *Step) string {
	days := st.Kept.ArchiveDays
	var b strings.Builder
	b.WriteString(scriptHeader(fmt.Sprintf("odbackup: S3 bucket %s (%s), mirrored encrypted", st.Store.Connection.Bucket, st.Store.ID)))
	b.WriteString(`# rclone wants the crypt passwords obscured; obscure them here, so the
# Secret holds the plain password a restore also needs.
RCLONE_CONFIG_CRYPT_PASSWORD=$(printf '%s' "$ODBACKUP_CRYPT_PASSWORD" | rclone obscure -)
RCLONE_CONFIG_CRYPT_PASSWORD2=$(printf '%s' "$ODBACKUP_CRYPT_SALT" | rclone obscure -)
export RCLONE_CONFIG_CRYPT_PASSWORD RCLONE_CONFIG_CRYPT_PASSWORD2
run=$(date -u +%Y-%m-%dT%H%M%SZ)
echo "odbackup: rclone sync of bucket $ODBACKUP_BUCKET to $RCLONE_CONFIG_CRYPT_REMOTE (run $run)"
rclone sync "source:$ODBACKUP_BUCKET" crypt:current --backup-dir="crypt:archive/$run" --fast-list --stats-one-line --stats=1m
`)
	fmt.Fprintf(&b, `# Keep replaced and deleted objects for %d days.
cutoff=$(date -u -d "@$(( $(date +%%s) - %d * 86400 ))" +%%Y-%%m-%%dT%%H%%M%%SZ)
rclone lsf --dirs-only crypt:archive | while read -r dir; do
	dir=${dir%%/}
	if [ "$dir" != "$cutoff" ] && [ "$(printf '%%s\n%%s\n' "$dir" "$cutoff" | sort | head -n 1)" = "$dir" ]; then
		echo "odbackup: pruning archive $dir (older than %d days)"
		rclone purge "crypt:archive/$dir"
	fi
done
`, days, days, days)
	return b.String()
}

// snapshotScript creates a VolumeSnapshot of one PVC, waits until it is
// ready to use (failing the Job if it never is) and prunes the store's
// snapshots to the newest keep.
func snapshotScript(st *Step, manifest []byte, selector string, keep, timeout int) string {
	var b strings.Builder
	b.WriteString(scriptHeader(fmt.Sprintf("odbackup: CSI snapshot of PVC %s (%s)", st.Store.Connection.Claim, st.Store.ID)))
	fmt.Fprintf(&b, "snapshot=%s-$(date -u +%%Y%%m%%d-%%H%%M%%S)\n", shq(snapshotPrefix(st)))
	b.WriteString(`echo "odbackup: creating VolumeSnapshot $snapshot"` + "\n")
	b.WriteString("kubectl --namespace=\"$ODBACKUP_NAMESPACE\" create --filename=- <<EOF\n")
	b.Write(manifest)
	b.WriteString("EOF\n")
	fmt.Fprintf(&b, `if ! kubectl --namespace="$ODBACKUP_NAMESPACE" wait --for=jsonpath='{.status.readyToUse}'=true "volumesnapshot/$snapshot" --timeout="${ODBACKUP_READY_TIMEOUT:-%d}s"; then
	echo "odbackup: VolumeSnapshot $snapshot did not become ready to use; keeping the older snapshots" >&2
	kubectl --namespace="$ODBACKUP_NAMESPACE" get volumesnapshot "$snapshot" --output=yaml >&2 || true
	exit 1
fi
kubectl --namespace="$ODBACKUP_NAMESPACE" get volumesnapshot --selector=%s --sort-by=.metadata.creationTimestamp --output=name >/tmp/snapshots
total=$(wc -l </tmp/snapshots)
if [ "$total" -gt %d ]; then
	echo "odbackup: pruning $((total - %d)) old snapshot(s)"
	head -n "$((total - %d))" /tmp/snapshots | xargs kubectl --namespace="$ODBACKUP_NAMESPACE" delete
fi
`, timeout, shq(selector), keep, keep, keep)
	return b.String()
}

// snapshotPrefix starts the names of a store's VolumeSnapshots; a
// timestamp follows.
func snapshotPrefix(st *Step) string {
	return dnsName(63-16, st.Store.Connection.Claim)
}

// maintenanceScript forgets each store's snapshots with its own retention,
// scoped to the site (--host) and the store (--tag), then prunes and reads
// back a subset of the data.
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
		fmt.Fprintf(b, "restic forget --retry-lock=1h --host=%s --tag=%s --group-by=host,paths --keep-daily=%d --keep-weekly=%d --keep-monthly=%d\n",
			shq(site), shq("store="+s.Store.ID), r.Daily, r.Weekly, r.Monthly)
	}
	b.WriteString("restic prune --retry-lock=1h\n")
	fmt.Fprintf(b, "restic check --retry-lock=1h --read-data-subset=%s\n", shq(subset))
	return b.String()
}
