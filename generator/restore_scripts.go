package generator

import (
	"fmt"
	"path"
	"strings"

	"github.com/odbackup/odbackup/schema"
)

// The restore scripts follow the backup scripts' convention (see
// scripts.go): what depends on where they run comes from environment
// variables, what identifies the data (site, store, file names, claims,
// pods) is literal. ODBACKUP_SNAPSHOT is the one choice: "latest", "list"
// (print what could be restored and stop), or the snapshot(s) to restore.
//
// POSIX sh has no pipefail: in `restic dump | pg_restore` a failed dump
// would go unnoticed when pg_restore happens to succeed on what it got.
// restore_stream therefore connects the two through a FIFO and waits for
// both, so either one failing fails the Job.
//
// Restores only read the repository, and read it without a lock
// (--no-lock): a lock left by a killed run would otherwise block them in
// the middle of an incident, and each restic call spared is a key
// derivation less (bench/backup-path.sh). A prune running at the same time
// can remove data a dump still reads; the dump then fails, loudly.

// restoreStreamFunc defines restore_stream TAGS SNAPSHOT FILE COMMAND...:
// it streams FILE of the restic snapshot SNAPSHOT ("latest": the newest
// with the site's host and TAGS) into COMMAND.
func restoreStreamFunc(site string) string {
	return `tmp=${TMPDIR:-/tmp}
restore_stream() {
	tags=$1 snap=$2 file=$3
	shift 3
	fifo=$tmp/odbackup-restore.fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	restic dump --no-lock --host=` + shq(site) + ` --tag="$tags" "$snap" "$file" >"$fifo" &
	dumper=$!
	consumed=0
	"$@" <"$fifo" || consumed=$?
	dumped=0
	wait "$dumper" || dumped=$?
	rm -f "$fifo"
	if [ "$dumped" -ne 0 ]; then
		echo "odbackup: restic dump of $file from snapshot $snap failed (exit $dumped); the restore is incomplete" >&2
		exit 1
	fi
	if [ "$consumed" -ne 0 ]; then
		echo "odbackup: restoring $file from snapshot $snap failed (exit $consumed)" >&2
		exit 1
	fi
}
`
}

// checkSnapshotsFunc defines check_snapshots: it removes stale restic
// locks (which would block every read), handles "list", accepts
// "latest", and otherwise makes sure every id in ODBACKUP_SNAPSHOT is a
// snapshot of this store at this site, so a mistyped or foreign id never
// overwrites a database. With many=false exactly one id is allowed.
func checkSnapshotsFunc(site, storeID string, many bool) string {
	filter := fmt.Sprintf("--host=%s --tag=%s", shq(site), shq("store="+storeID))
	one := `	*[!0-9a-f]*)
		echo "odbackup: ODBACKUP_SNAPSHOT: $snapshot is neither latest, list nor one restic snapshot ID" >&2
		exit 1
		;;
`
	if many {
		one = ""
	}
	return `store_snapshots() {
	restic snapshots --no-lock ` + filter + ` "$@"
}
check_snapshots() {
	case $snapshot in
	latest)
		echo "odbackup: the newest snapshot of ` + storeID + `:"
		store_snapshots --latest=1
		return
		;;
	list)
		store_snapshots
		echo "odbackup: nothing restored; set ODBACKUP_SNAPSHOT to latest or to an ID of this list"
		exit 0
		;;
` + one + `	esac
	known=$(store_snapshots --json)
	for id in $snapshot; do
		case $id in
		*[!0-9a-f]*)
			echo "odbackup: ODBACKUP_SNAPSHOT: $id is neither latest, list nor a restic snapshot ID" >&2
			exit 1
			;;
		esac
		if [ "${#id}" -lt 8 ]; then
			echo "odbackup: ODBACKUP_SNAPSHOT: $id is too short; give at least the 8 hex digits restic shows" >&2
			exit 1
		fi
		case $known in
		*"\"id\":\"$id"*) ;;
		*)
			echo "odbackup: $id is not a snapshot of ` + storeID + ` at site ` + site + `" >&2
			exit 1
			;;
		esac
		store_snapshots "$id"
	done
}
`
}

// resticRestoreScript starts a restore from restic: header, the two
// helpers and the check of ODBACKUP_SNAPSHOT.
func resticRestoreScript(r *RestoreJob, what string, many bool) *strings.Builder {
	st := r.Step
	b := new(strings.Builder)
	b.WriteString(scriptHeader("odbackup restore: " + what + " (" + st.Store.ID + ")"))
	b.WriteString("snapshot=${ODBACKUP_SNAPSHOT:-latest}\n")
	b.WriteString(restoreStreamFunc(st.Job.Site))
	b.WriteString(checkSnapshotsFunc(st.Job.Site, st.Store.ID, many))
	b.WriteString("check_snapshots\n")
	return b
}

// restoreMethods says, per backup method, how its data comes back: the
// restore Job's script, and the runbook section that explains it.
var restoreMethods = map[Method]struct {
	script  func(*RestoreJob) string
	section func(*runbooks, *markdown, *schema.SiteApp, *RestoreJob)
}{
	MethodPgDump:            {pgRestoreScript, (*runbooks).postgresSection},
	MethodMariaDBDump:       {mariadbRestoreScript, (*runbooks).mariadbSection},
	MethodBucketMirror:      {bucketRestoreScript, (*runbooks).bucketSection},
	MethodCSISnapshot:       {claimRestoreScript, (*runbooks).claimSection},
	MethodCassandraSnapshot: {cassandraRestoreScript, (*runbooks).cassandraSection},
	MethodRedisRDB:          {redisRestoreScript, (*runbooks).redisSection},
	MethodObjectExport:      {objectRestoreScript, (*runbooks).objectSection},
	MethodExecExport:        {exportRestoreScript, (*runbooks).exportSection},
}

func restoreScript(r *RestoreJob) string { return restoreMethods[r.Step.Method].script(r) }

// pgRestoreScript restores a pg_dump in one transaction: objects of the
// dump are dropped and created again, owned by the connecting user; if
// anything fails, the database is left as it was.
func pgRestoreScript(r *RestoreJob) string {
	st := r.Step
	db := st.Store.Connection.Database
	b := resticRestoreScript(r, "PostgreSQL database "+db, false)
	fmt.Fprintf(b, `echo "odbackup: pg_restore of %[1]s.pgdump (snapshot $snapshot) into database $PGDATABASE on $PGHOST:$PGPORT as $PGUSER"
restore_stream %[2]s "$snapshot" %[1]s.pgdump \
	pg_restore --clean --if-exists --no-owner --single-transaction --no-password --dbname="$PGDATABASE"
echo "odbackup: database $PGDATABASE restored"
`, shq(db), shq("store="+st.Store.ID))
	return b.String()
}

// mariadbRestoreScript feeds each database's dump to the mariadb client.
// The dumps were taken with --databases: each one creates its database if
// needed, selects it and drops and recreates every table it holds.
func mariadbRestoreScript(r *RestoreJob) string {
	st := r.Step
	c := st.Store.Connection
	tag := "store=" + st.Store.ID
	b := resticRestoreScript(r, "MariaDB database(s) "+c.Database, true)
	client := `mariadb --host="$MARIADB_HOST" --port="$MARIADB_PORT" --user="$MARIADB_USER"`
	fmt.Fprintf(b, `# database_of prints the database a snapshot holds, from its database= tag.
database_of() {
	sed -n 's/.*"database=\([^"]*\)".*/\1/p' | head -n 1
}
if [ "$snapshot" = latest ]; then
	# The newest snapshot of every database this store has backed up.
	json=$(store_snapshots --json)
	databases=$(printf '%%s\n' "$json" | grep -o '"database=[^"]*"' | sed 's/^"database=//; s/"$//' | sort -u)
	if [ -z "$databases" ]; then
		echo "odbackup: no snapshot of %[1]s at site %[2]s" >&2
		exit 1
	fi
	for db in $databases; do
		echo "odbackup: restoring database $db (newest snapshot) on $MARIADB_HOST:$MARIADB_PORT"
		restore_stream "%[3]s,database=$db" latest "$db.sql" %[4]s
	done
else
	for id in $snapshot; do
		json=$(restic snapshots --no-lock --json "$id")
		db=$(printf '%%s\n' "$json" | grep -o '"database=[^"]*"' | database_of)
		echo "odbackup: restoring database $db (snapshot $id) on $MARIADB_HOST:$MARIADB_PORT"
		restore_stream %[5]s "$id" "$db.sql" %[4]s
	done
fi
echo "odbackup: MariaDB database(s) restored on $MARIADB_HOST:$MARIADB_PORT"
`, st.Store.ID, st.Job.Site, tag, client, shq(tag))
	return b.String()
}

// bucketRestoreScript syncs the mirror's "current" back into the bucket.
// Given a time instead of "latest", it then copies back, newest first, the
// objects that later runs replaced or deleted, so each object ends up as
// the mirror had it at that time.
func bucketRestoreScript(r *RestoreJob) string {
	st := r.Step
	var b strings.Builder
	b.WriteString(scriptHeader(fmt.Sprintf("odbackup restore: S3 bucket %s (%s) from its encrypted mirror", st.Store.Connection.Bucket, st.Store.ID)))
	b.WriteString(`snapshot=${ODBACKUP_SNAPSHOT:-latest}
tmp=${TMPDIR:-/tmp}
RCLONE_CONFIG_CRYPT_PASSWORD=$(printf '%s' "$ODBACKUP_CRYPT_PASSWORD" | rclone obscure -)
RCLONE_CONFIG_CRYPT_PASSWORD2=$(printf '%s' "$ODBACKUP_CRYPT_SALT" | rclone obscure -)
export RCLONE_CONFIG_CRYPT_PASSWORD RCLONE_CONFIG_CRYPT_PASSWORD2
case $snapshot in
list)
	echo "odbackup: runs that replaced or deleted objects (archive folders, UTC):"
	rclone lsf --dirs-only crypt:archive
	echo "odbackup: nothing restored; set ODBACKUP_SNAPSHOT to latest or to a UTC time like 2026-01-31T120000Z"
	exit 0
	;;
latest) ;;
[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9][0-5][0-9][0-5][0-9]Z) ;;
*)
	echo "odbackup: ODBACKUP_SNAPSHOT: $snapshot is neither latest, list nor a UTC time like 2026-01-31T120000Z" >&2
	exit 1
	;;
esac
echo "odbackup: rclone sync of $RCLONE_CONFIG_CRYPT_REMOTE/current into bucket $ODBACKUP_BUCKET"
rclone sync crypt:current "source:$ODBACKUP_BUCKET" --fast-list --stats-one-line --stats=1m
if [ "$snapshot" != latest ]; then
	rclone lsf --dirs-only crypt:archive >"$tmp/archive"
	sed 's|/$||' "$tmp/archive" | awk -v t="$snapshot" '$0 > t' | sort -r >"$tmp/later"
	while read -r run; do
		echo "odbackup: copying back what run $run replaced or deleted"
		rclone copy "crypt:archive/$run" "source:$ODBACKUP_BUCKET" --fast-list --stats-one-line --stats=1m
	done <"$tmp/later"
fi
echo "odbackup: bucket $ODBACKUP_BUCKET restored"
`)
	return b.String()
}

// pvcTemplate renders a new claim from the live one: its name, labels and
// annotations (Helm's ownership marks among them, so the next helm upgrade
// still adopts it), access modes, class, volume mode and size. The
// annotations the volume controllers set for the old volume are dropped
// by the script. %q quotes are valid YAML double-quoted strings.
const pvcTemplate = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{.metadata.name}}
  labels:
{{- range $k, $v := .metadata.labels}}
    {{printf "%q" $k}}: {{printf "%q" $v}}
{{- end}}
  annotations:
{{- range $k, $v := .metadata.annotations}}
    {{printf "%q" $k}}: {{printf "%q" $v}}
{{- end}}
spec:
  accessModes:
{{- range .spec.accessModes}}
  - {{.}}
{{- end}}
{{- with .spec.storageClassName}}
  storageClassName: {{printf "%q" .}}
{{- end}}
{{- with .spec.volumeMode}}
  volumeMode: {{.}}
{{- end}}
  resources:
    requests:
      storage: {{index .spec.resources.requests "storage"}}
`

// claimRestoreScript swaps a claim for a new one made from a VolumeSnapshot:
// it refuses while the workload that mounts it runs, records the live
// claim, deletes it and creates it again with the snapshot as dataSource.
func claimRestoreScript(r *RestoreJob) string {
	st := r.Step
	claim := st.Store.Connection.Claim
	label := storeLabel(st.Store.ID)
	var b strings.Builder
	b.WriteString(scriptHeader(fmt.Sprintf("odbackup restore: PVC %s (%s) from a CSI VolumeSnapshot", claim, st.Store.ID)))
	fmt.Fprintf(&b, `snapshot=${ODBACKUP_SNAPSHOT:-latest}
tmp=${TMPDIR:-/tmp}
claim=%s
selector=%s
k() {
	kubectl --namespace="$ODBACKUP_NAMESPACE" "$@"
}
case $snapshot in
list)
	k get volumesnapshot --selector="$selector" --sort-by=.metadata.creationTimestamp
	echo "odbackup: nothing restored; set ODBACKUP_SNAPSHOT to latest or to a NAME of this list"
	exit 0
	;;
*[!a-z0-9.-]*)
	echo "odbackup: ODBACKUP_SNAPSHOT: $snapshot is neither latest, list nor a VolumeSnapshot name" >&2
	exit 1
	;;
latest)
	k get volumesnapshot --selector="$selector" --sort-by=.metadata.creationTimestamp \
		--output=jsonpath='{range .items[*]}{.metadata.name} {.status.readyToUse}{"\n"}{end}' >"$tmp/snapshots"
	snapshot=$(awk '$2 == "true" { name = $1 } END { print name }' "$tmp/snapshots")
	if [ -z "$snapshot" ]; then
		echo "odbackup: no VolumeSnapshot with label $selector is ready to use" >&2
		exit 1
	fi
	;;
esac
if [ "$(k get volumesnapshot "$snapshot" --output=jsonpath='{.metadata.labels.odbackup\.io/store}')" != %s ]; then
	echo "odbackup: VolumeSnapshot $snapshot is not a snapshot of %s (label $selector)" >&2
	exit 1
fi
if [ "$(k get volumesnapshot "$snapshot" --output=jsonpath='{.status.readyToUse}')" != true ]; then
	echo "odbackup: VolumeSnapshot $snapshot is not ready to use" >&2
	exit 1
fi
`, shq(claim), shq(labelStore+"="+label), shq(label), st.Store.ID)
	if w := r.Stopped; w != nil {
		b.WriteString(stoppedCheck(*w))
	} else {
		b.WriteString("# The catalog names no workload for this claim: the delete below waits\n# (and times out) while a pod still mounts it.\n")
	}
	fmt.Fprintf(&b, `if ! k get pvc "$claim" --output=name >/dev/null; then
	echo "odbackup: claim $claim does not exist; deploy the app so its chart creates it, stop the workload again and run this Job again" >&2
	exit 1
fi
cat >"$tmp/pvc.tmpl" <<'EOF'
%sEOF
echo "odbackup: live claim $claim (the new one keeps its class, access modes, size, labels and annotations):"
k get pvc "$claim" --output=go-template-file="$tmp/pvc.tmpl" >"$tmp/live.yaml"
k get pvc "$claim" --output=jsonpath='{"volume: "}{.spec.volumeName}{"\nclass: "}{.spec.storageClassName}{"\naccess modes: "}{.spec.accessModes}{"\nsize: "}{.spec.resources.requests.storage}{"\n"}'
grep -v -e '^    "pv\.kubernetes\.io/' -e '^    "volume\.beta\.kubernetes\.io/' -e '^    "volume\.kubernetes\.io/' "$tmp/live.yaml" >"$tmp/new.yaml"
cat >>"$tmp/new.yaml" <<EOF
  dataSource:
    apiGroup: snapshot.storage.k8s.io
    kind: VolumeSnapshot
    name: $snapshot
EOF
echo "odbackup: deleting claim $claim"
k delete pvc "$claim" --wait=true --timeout=10m
echo "odbackup: creating claim $claim from VolumeSnapshot $snapshot:"
cat "$tmp/new.yaml"
k create --filename="$tmp/new.yaml"
k get pvc "$claim"
echo "odbackup: claim $claim restored from $snapshot; it binds when its workload starts"
`, pvcTemplate)
	return b.String()
}

// stoppedCheck refuses to go on while a workload has replicas, or pods.
func stoppedCheck(w schema.Workload) string {
	ref := workloadRef(w)
	return fmt.Sprintf(`replicas=$(k get %[1]s --output=jsonpath='{.spec.replicas}/{.status.replicas}')
case $replicas in
0/ | 0/0) ;;
*)
	echo "odbackup: %[1]s has replicas (spec/status: $replicas); scale it to 0 and wait for its pods to end first" >&2
	exit 1
	;;
esac
`, ref)
}

// cassandraRestoreScript streams a keyspace's snapshot tar into the
// Cassandra pod, unpacks it next to the data directory (same volume, so
// nodetool import moves files instead of copying them) and imports every
// table; the tables must exist.
func cassandraRestoreScript(r *RestoreJob) string {
	st := r.Step
	c := st.Store.Connection
	ks := c.Keyspace
	staging := path.Join(path.Dir(strings.TrimRight(c.DataDir, "/")), "odbackup-restore-"+ks)
	inner := fmt.Sprintf(`set -e
staging=%[1]s
rm -rf "$staging"
mkdir -p "$staging"
tar -xf - -C "$staging"
found=0
for dir in "$staging"/*/snapshots/odbackup; do
	[ -d "$dir" ] || continue
	table=$(basename "$(dirname "$(dirname "$dir")")")
	table=${table%%-*}
	echo "odbackup: nodetool import %[2]s $table"
	nodetool import %[2]s "$table" "$dir"
	found=$((found + 1))
done
rm -rf "$staging"
if [ "$found" -eq 0 ]; then
	echo "odbackup: the snapshot holds no table of keyspace %[2]s" >&2
	exit 1
fi
echo "odbackup: imported $found table(s) of keyspace %[2]s"
`, shq(staging), ks)
	b := resticRestoreScript(r, "Cassandra keyspace "+ks, false)
	b.WriteString(podScript(inner))
	fmt.Fprintf(b, `restore_stream %s "$snapshot" %s \
	kubectl --namespace="$ODBACKUP_NAMESPACE" exec --stdin %s --container=%s -- sh -c "$inner"
`, shq("store="+st.Store.ID), shq(ks+".tar"), shq(c.Pod), shq(c.Container))
	return b.String()
}

// redisRestoreScript writes the backup as dump.rdb and as the base of a new
// append-only file into the stopped server's volume: Redis 7 with
// appendonly on loads only the append-only file, with it off only
// dump.rdb. What was there is moved aside, not deleted.
func redisRestoreScript(r *RestoreJob) string {
	st := r.Step
	b := new(strings.Builder)
	b.WriteString(scriptHeader("odbackup restore: Redis dump.rdb on claim " + st.Store.Connection.Claim + " (" + st.Store.ID + ")"))
	b.WriteString(`k() {
	kubectl --namespace="$ODBACKUP_NAMESPACE" "$@"
}
`)
	if w := r.Stopped; w != nil {
		b.WriteString(stoppedCheck(*w))
	}
	b.WriteString("snapshot=${ODBACKUP_SNAPSHOT:-latest}\n")
	b.WriteString(restoreStreamFunc(st.Job.Site))
	b.WriteString(checkSnapshotsFunc(st.Job.Site, st.Store.ID, false))
	fmt.Fprintf(b, `check_snapshots
data=$ODBACKUP_DATA_DIR
write_file() {
	cat >"$1"
}
restore_stream %s "$snapshot" dump.rdb write_file "$data/dump.rdb.odbackup"
if [ "$(head -c 5 "$data/dump.rdb.odbackup")" != REDIS ]; then
	echo "odbackup: the restored dump.rdb is not an RDB file" >&2
	exit 1
fi
# Backups of odbackup before it staged the RDB in a file (redis-cli --rdb -)
# end with the 40-character EOF mark of a diskless transfer. Redis ignores
# it in dump.rdb but refuses to start on an append-only base that has it;
# an RDB itself ends in a binary checksum.
if tail -c 40 "$data/dump.rdb.odbackup" | grep -qx '[0-9a-f]\{40\}'; then
	size=$(wc -c <"$data/dump.rdb.odbackup")
	truncate -s "$((size - 40))" "$data/dump.rdb.odbackup"
fi
stamp=$(date -u +%%Y%%m%%dT%%H%%M%%SZ)
for old in dump.rdb appendonlydir; do
	if [ -e "$data/$old" ]; then
		echo "odbackup: keeping the old $old as $old.before-restore-$stamp"
		mv "$data/$old" "$data/$old.before-restore-$stamp"
	fi
done
mv "$data/dump.rdb.odbackup" "$data/dump.rdb"
mkdir "$data/appendonlydir"
cp "$data/dump.rdb" "$data/appendonlydir/appendonly.aof.1.base.rdb"
printf 'file appendonly.aof.1.base.rdb seq 1 type b\n' >"$data/appendonlydir/appendonly.aof.manifest"
echo "odbackup: dump.rdb restored; Redis loads it when it starts"
`, shq("store="+st.Store.ID))
	return b.String()
}

// objectRestoreScript puts a ConfigMap or Secret back exactly as backed up:
// metadata the API server assigns (uid, resourceVersion, ...) and the
// namespace are stripped, then the object is replaced (or created, if it
// is gone). The object streams from restic into kubectl; it never touches
// a disk, which matters for a Secret.
func objectRestoreScript(r *RestoreJob) string {
	st := r.Step
	kind, name := st.Store.Kind, st.Store.Connection.Name
	b := resticRestoreScript(r, kind+" "+name, false)
	fmt.Fprintf(b, `if kubectl --namespace="$ODBACKUP_NAMESPACE" get %[1]s %[2]s --output=name >/dev/null 2>&1; then
	verb=replace
else
	verb=create
fi
put_object() {
	awk '/^[^ ]/ { meta = ($0 == "metadata:") }
		meta && /^  (creationTimestamp|generation|namespace|resourceVersion|selfLink|uid):/ { next }
		{ print }' |
		kubectl --namespace="$ODBACKUP_NAMESPACE" "$verb" --filename=-
}
echo "odbackup: restoring %[1]s %[2]s ($verb)"
restore_stream %[3]s "$snapshot" %[4]s put_object
echo "odbackup: %[1]s %[2]s restored"
`, kind, shq(name), shq("store="+st.Store.ID), shq(kind+"-"+name+".yaml"))
	return b.String()
}

// exportRestoreScript fetches a logical export into the pod it came from,
// on the store's volume (so it survives a restart of the pod); loading it
// is a manual step the runbook describes.
func exportRestoreScript(r *RestoreJob) string {
	st := r.Step
	e := st.Store.Export
	dir := exportRestoreDir(st)
	file := path.Join(dir, e.Filename)
	count := `$(wc -c <%[2]s) bytes`
	if strings.HasSuffix(e.Filename, ".ldif") {
		count = `$(grep -c '^dn: ' %[2]s) entries`
	}
	inner := fmt.Sprintf("set -e\nmkdir -p %[1]s\ncat >%[2]s.part\nmv %[2]s.part %[2]s\necho \"odbackup: "+count+" in %[2]s\"\n", shq(dir), shq(file))
	b := resticRestoreScript(r, e.Filename+" into pod "+e.Pod, false)
	b.WriteString(podScript(inner))
	fmt.Fprintf(b, `echo "odbackup: copying %[1]s into pod %[2]s, container %[3]s, as %[4]s"
restore_stream %[5]s "$snapshot" %[6]s \
	kubectl --namespace="$ODBACKUP_NAMESPACE" exec --stdin %[7]s --container=%[8]s -- sh -c "$inner"
`, e.Filename, e.Pod, e.Container, file, shq("store="+st.Store.ID+",export="+e.Filename), shq(e.Filename), shq(e.Pod), shq(e.Container))
	return b.String()
}

// podScript sets $inner to a script that runs in another pod; a quoted
// here-document keeps this shell from expanding anything in it.
func podScript(script string) string {
	return "inner=$(cat <<'EOF'\n" + strings.TrimRight(script, "\n") + "\nEOF\n)\n"
}

// exportRestoreDir is where an export is put back in its pod: on the
// store's volume when the catalog names its mount path, else /tmp.
func exportRestoreDir(st *Step) string {
	if len(st.Store.Paths) > 0 {
		return path.Join(st.Store.Paths[0], "odbackup-restore")
	}
	return "/tmp/odbackup-restore"
}
