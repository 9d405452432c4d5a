package kinds

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// redisRDB streams redis-cli --rdb into restic; a restore writes the dump
// into the stopped server's volume.
type redisRDB struct{ Restic }

// methodRedisRDB names the kind.
const methodRedisRDB plan.Method = "redis-rdb"

func (redisRDB) Method() plan.Method { return methodRedisRDB }

func (redisRDB) Backs(st *schema.SiteStore) bool { return st.Kind == "redis" }

func (redisRDB) GroupOrder() int { return 1 }

func (redisRDB) BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	c := st.Store.Connection
	return manifest.Container{Image: pol.Images.Redis, Restic: true, Script: redisScript(st),
		Env: []corev1.EnvVar{manifest.Literal("REDIS_HOST", c.Host), manifest.Literal("REDIS_PORT", fmt.Sprint(c.Port)), manifest.FromSecret("REDISCLI_AUTH", *c.PasswordSecret)}}
}

func (redisRDB) BackupRules(*plan.Step, BackupRule) {}

func (redisRDB) RestoreContainer(g *manifest.Builder, _ *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, Restic: true, API: true,
		Env:    []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace), manifest.Literal("ODBACKUP_DATA_DIR", restoreMountDir)},
		Mounts: []corev1.VolumeMount{{Name: "data", MountPath: restoreMountDir}}}
}

func (redisRDB) RestoreScript(_ *manifest.Builder, r *RestoreJob) string {
	return redisRestoreScript(r)
}

func (redisRDB) RestorePod(st *plan.Step, pod *corev1.PodSpec) {
	c := st.Store.Connection
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Claim},
	}})
	// The new dump.rdb must be readable by the server, which runs with
	// this group; the Job's own user stays the unprivileged one.
	pod.SecurityContext.FSGroup = ptr.To(int64(c.FSGroup))
}

func (redisRDB) RestoreRules(_ *RestoreJob, _ RestoreRule, stopped func()) { stopped() }

// stoppedWorkload: Redis servers run as StatefulSets (openDesk's bundled
// one is redis-master); the catalog's Redis app says so when deployed.
func (redisRDB) StoppedWorkload(p *plan.Plan, st *plan.Step) *schema.Workload {
	return findWorkload(p, st.Store.App, st.Store.Connection.Workload, "StatefulSet")
}

func (redisRDB) RestoreTarget(r *RestoreJob) (noun, name, kind string) {
	return "Redis data on", r.Step.Store.Connection.Claim, "dump.rdb"
}

func (redisRDB) RunbookSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob) {
	redisSection(rb, m, app, r)
}

// redisStream is the command restic runs for a Redis backup: redis-cli
// --rdb - streams the RDB on its standard output, and dd gathers
// redis-cli's 4 KiB writes into 1 MiB blocks for restic (one wake-up per
// MiB instead of 256). redis-cli's own exit status proves the stream
// complete: it reads the announced length of the RDB, or, in a diskless
// transfer (the default since Redis 7), up to the 40-byte EOF mark the
// server sends after the last byte, and exits non-zero when the
// connection ends before that or a write fails. POSIX sh has no pipefail,
// so its status goes through a file, as the exec export's does; a failure
// of either makes this command fail, and restic then stores no snapshot.
// A streamed RDB ends with that EOF mark, which the restore and the drill
// strip.
const redisStream = `set -eu
status=$(mktemp)
{
	rc=0
	redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning --rdb - || rc=$?
	echo "$rc" >"$status"
} | dd bs=1M iflag=fullblock status=none || {
	echo "odbackup: dd, passing the RDB on to restic, failed; nothing is stored" >&2
	rm -f "$status"
	exit 1
}
rc=$(cat "$status")
rm -f "$status"
if [ "$rc" -ne 0 ]; then
	echo "odbackup: redis-cli --rdb failed (exit $rc): the RDB is incomplete; nothing is stored" >&2
	exit 1
fi
`

// redisScript streams the RDB into restic (redisStream). It once staged
// the RDB in the pod's /tmp, because redis-cli strips the EOF mark only
// from a file; the transfer and restic then ran one after the other, and
// the bench (bench/redis-path.sh) measured the step at half the speed of
// the bare transfer.
func redisScript(st *plan.Step) string {
	b := shell.ResticScript(st, "odbackup: Redis RDB snapshot ("+st.Store.ID+")")
	b.WriteString(`echo "odbackup: redis-cli --rdb from $REDIS_HOST:$REDIS_PORT"` + "\n")
	b.WriteString(shell.Var("rdb_stream", redisStream))
	b.WriteString(shell.ResticBackup(st, "dump.rdb", nil, `sh -c "$rdb_stream"`))
	return b.String()
}

// redisRestoreScript writes the backup as dump.rdb and as the base of a new
// append-only file into the stopped server's volume: Redis 7 with
// appendonly on loads only the append-only file, with it off only
// dump.rdb. What was there is moved aside, not deleted.
func redisRestoreScript(r *RestoreJob) string {
	st := r.Step
	b := new(strings.Builder)
	b.WriteString(shell.Header("odbackup restore: Redis dump.rdb on claim " + st.Store.Connection.Claim + " (" + st.Store.ID + ")"))
	b.WriteString(`k() {
	kubectl --namespace="$ODBACKUP_NAMESPACE" "$@"
}
`)
	if w := r.Stopped; w != nil {
		b.WriteString(shell.StoppedCheck(*w))
	}
	b.WriteString("snapshot=${ODBACKUP_SNAPSHOT:-latest}\n")
	b.WriteString(shell.RestoreStreamFunc(st.Job.Site))
	b.WriteString(shell.CheckSnapshotsFunc(st.Job.Site, st.Store.ID, false))
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
# A streamed RDB (redis-cli --rdb -) ends with the 40-character EOF mark
# of a diskless transfer (not the backups odbackup staged in a file before
# it streamed them). Redis ignores it in dump.rdb but refuses to start on
# an append-only base that has it; an RDB itself ends in a binary checksum.
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
`, shell.Quote("store="+st.Store.ID))
	return b.String()
}

func redisSection(rb Runbook, m *markdown.Doc, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	w := *r.Stopped
	file := rb.Note("redis-replicas.txt")
	m.Para("This Redis is shared: restoring it replaces the data of every app that uses %s (sessions, caches and locks of all of them), and every user is logged out. Restore it only when that is what you want.", markdown.Code(fmt.Sprintf("%s:%d", c.Host, c.Port)))
	m.Para("What the Job does: it checks that %s has 0 replicas and no pods, mounts the server's volume %s, writes the %s of the chosen restic snapshot there both as %s and as the base of a new append-only file (%s; Redis 7 with %s on loads only that), and moves what was there to %s and %s.",
		markdown.Code(shell.WorkloadRef(w)), markdown.Code(c.Claim), markdown.Code("dump.rdb"), markdown.Code("dump.rdb"), markdown.Code("appendonlydir/"), markdown.Code("appendonly"), markdown.Code("dump.rdb.before-restore-YYYYMMDDTHHMMSSZ"), markdown.Code("appendonlydir.before-restore-YYYYMMDDTHHMMSSZ"))
	m.Para("Why this way: Redis reads its files only when it starts, so they are replaced while it is stopped. Stop it, recording its replicas:")
	ws := []schema.Workload{w}
	m.CodeBlock("sh", rb.RecordCommand(ws, file)+"\n"+rb.StopCommands(ws))
	rb.ApplyCommands(m, r)
	m.Para("Start Redis again:")
	m.CodeBlock("sh", rb.StartCommands(ws, file))
}

// Drills: every Redis RDB backup is drilled.
func (redisRDB) Drills(*schema.SiteStore) bool { return true }

// drillContainer checks the RDB with redis-check-rdb, Redis' own loader,
// in the policy's Redis image; it needs no server.
func (redisRDB) DrillContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	return manifest.Container{Image: g.Plan.Site.Policy.Images.Redis, Restic: true, Script: redisDrillScript(st)}
}

func (redisRDB) DrillNoun() string { return "Redis RDB files" }

func (redisRDB) DrillChecks(*plan.Step) string {
	return fmt.Sprintf("the newest %s is an RDB file that %s loads without an error", markdown.Code("dump.rdb"), markdown.Code("redis-check-rdb"))
}

func redisDrillScript(st *plan.Step) string {
	b := shell.DrillHeader(st, "Redis dump.rdb")
	b.WriteString(shell.DrillFetch(st.Job.Site, "store="+st.Store.ID, "dump.rdb", "dump.rdb"))
	b.WriteString(`if [ "$(head -c 5 "$scratch/dump.rdb")" != REDIS ]; then
	fail "the newest dump.rdb is not an RDB file"
fi
# Backups taken with redis-cli --rdb - end with the 40-character EOF mark
# of a diskless transfer, which redis-check-rdb reports as trailing data.
if tail -c 40 "$scratch/dump.rdb" | grep -qx '[0-9a-f]\{40\}'; then
	size=$(wc -c <"$scratch/dump.rdb")
	truncate -s "$((size - 40))" "$scratch/dump.rdb"
fi
redis-check-rdb "$scratch/dump.rdb" >"$scratch/check.log" 2>&1 || {
	cat "$scratch/check.log" >&2
	fail "redis-check-rdb rejects the newest dump.rdb: $(grep -v '^ *$' "$scratch/check.log" | tail -n 1)"
}
`)
	b.WriteString(shell.DrillPassed(st, "dump.rdb loads"))
	return b.String()
}
