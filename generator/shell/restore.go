package shell

import (
	"fmt"
	"strings"

	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
)

// The restore scripts follow the backup scripts' convention (see
// restic.go): what depends on where they run comes from environment
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

// RestoreStreamFunc defines restore_stream TAGS SNAPSHOT FILE COMMAND...:
// it streams FILE of the restic snapshot SNAPSHOT ("latest": the newest
// with the site's host and TAGS) into COMMAND.
func RestoreStreamFunc(site string) string {
	return `tmp=${TMPDIR:-/tmp}
restore_stream() {
	tags=$1 snap=$2 file=$3
	shift 3
	fifo=$tmp/odbackup-restore.fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	restic dump --no-lock --host=` + Quote(site) + ` --tag="$tags" "$snap" "$file" >"$fifo" &
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

// SnapshotIDOfJSON is a pipeline that reads restic's JSON (snapshots
// --json, or ls --json, whose first line is the snapshot) and prints the
// first snapshot's full ID: the first "id" key ("short_id" does not match,
// nodes have none).
const SnapshotIDOfJSON = `grep -o '"id":"[0-9a-f]*"' | head -n 1 | cut -d '"' -f 4`

// RestoreStageFunc defines restore_stage TAGS SNAPSHOT FILE OUT: it
// writes FILE of the restic snapshot SNAPSHOT ("latest": the newest with
// the site's host and TAGS) to OUT, for a consumer that needs a file, not
// a stream (pg_restore --jobs). restic ls first resolves SNAPSHOT to one
// ID, which the dump then reads (a backup that ends in between does not
// change what is restored), and says how many bytes the snapshot holds
// for FILE. The staged file must have exactly that size: restic dump's
// exit status covers what restic noticed, the size also what it did not
// (a stream cut short with exit 0, as issue 16 found of kubectl exec).
// Either failing removes OUT and ends the script before anything is
// restored. A volume too small for FILE is said before the dump starts.
func RestoreStageFunc(site string) string {
	return `restore_stage() {
	tags=$1 snap=$2 file=$3 out=$4
	listing=$(restic ls --no-lock --json --host=` + Quote(site) + ` --tag="$tags" "$snap" "/$file") || {
		echo "odbackup: restic ls of $file in snapshot $snap failed; nothing was restored" >&2
		exit 1
	}
	id=$(printf '%s\n' "$listing" | ` + SnapshotIDOfJSON + `) || true
	size=$(printf '%s\n' "$listing" | grep -F "\"path\":\"/$file\"" | grep -o '"size":[0-9]*' | cut -d : -f 2) || true
	if [ -z "$id" ] || [ -z "$size" ]; then
		echo "odbackup: snapshot $snap holds no $file; nothing was restored" >&2
		exit 1
	fi
	free=$(df -Pk "$(dirname "$out")" | awk 'NR == 2 { print $4 }') || true
	if [ -n "$free" ] && [ $((free * 1024)) -lt "$size" ]; then
		echo "odbackup: $file of snapshot $id is $((size / 1048576)) MiB, the scratch volume has $((free / 1024)) MiB free: raise restoreScratch.size; nothing was restored" >&2
		exit 1
	fi
	echo "odbackup: staging $file of snapshot $id ($size bytes) in $out"
	dumped=0
	restic dump --no-lock --host=` + Quote(site) + ` --tag="$tags" "$id" "$file" >"$out" || dumped=$?
	if [ "$dumped" -ne 0 ]; then
		rm -f "$out"
		echo "odbackup: restic dump of $file from snapshot $id failed (exit $dumped); nothing was restored" >&2
		exit 1
	fi
	staged=$(wc -c <"$out")
	if [ "$staged" -ne "$size" ]; then
		rm -f "$out"
		echo "odbackup: the staged $file is cut short: $staged of the snapshot's $size bytes; nothing was restored" >&2
		exit 1
	fi
}
`
}

// CheckSnapshotsFunc defines check_snapshots: it removes stale restic
// locks (which would block every read), handles "list", accepts
// "latest", and otherwise makes sure every id in ODBACKUP_SNAPSHOT is a
// snapshot of this store at this site, so a mistyped or foreign id never
// overwrites a database. With many=false exactly one id is allowed.
func CheckSnapshotsFunc(site, storeID string, many bool) string {
	filter := fmt.Sprintf("--host=%s --tag=%s", Quote(site), Quote("store="+storeID))
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

// ResticRestoreScript starts a restore from restic: header, the two
// helpers and the check of ODBACKUP_SNAPSHOT.
func ResticRestoreScript(st *plan.Step, what string, many bool) *strings.Builder {
	b := new(strings.Builder)
	b.WriteString(Header("odbackup restore: " + what + " (" + st.Store.ID + ")"))
	b.WriteString("snapshot=${ODBACKUP_SNAPSHOT:-latest}\n")
	b.WriteString(RestoreStreamFunc(st.Job.Site))
	b.WriteString(CheckSnapshotsFunc(st.Job.Site, st.Store.ID, many))
	b.WriteString("check_snapshots\n")
	return b
}

// PVCTemplate renders a new claim from the live one: its name, labels and
// annotations (Helm's ownership marks among them, so the next helm upgrade
// still adopts it), access modes, class, volume mode and size. The
// annotations the volume controllers set for the old volume are dropped
// by the script. %q quotes are valid YAML double-quoted strings.
const PVCTemplate = `apiVersion: v1
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

// StoppedCheck refuses to go on while a workload has replicas, or pods.
func StoppedCheck(w schema.Workload) string {
	ref := WorkloadRef(w)
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

// PodScript sets $inner to a script that runs in another pod; a quoted
// here-document keeps this shell from expanding anything in it.
func PodScript(script string) string { return Var("inner", script) }

// Var sets the shell variable name to a script, literally: a quoted
// here-document keeps this shell from expanding anything in it.
func Var(name, script string) string {
	return name + "=$(cat <<'EOF'\n" + strings.TrimRight(script, "\n") + "\nEOF\n)\n"
}

// WorkloadRef is "kind/name" as kubectl takes it: "statefulset/redis-master".
func WorkloadRef(w schema.Workload) string { return strings.ToLower(w.Kind) + "/" + w.Name }
