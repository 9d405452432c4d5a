package kinds

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// cassandraSnapshot flushes and snapshots a keyspace with nodetool in the
// Cassandra pod and streams the snapshot into restic.
type cassandraSnapshot struct{ Restic }

// methodCassandraSnapshot names the kind.
const methodCassandraSnapshot plan.Method = "nodetool-snapshot"

func (cassandraSnapshot) Method() plan.Method { return methodCassandraSnapshot }

func (cassandraSnapshot) Backs(st *schema.SiteStore) bool { return st.Kind == "cassandra" }

func (cassandraSnapshot) GroupOrder() int { return 1 }

func (cassandraSnapshot) BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, Restic: true, API: true, Script: cassandraScript(st), Env: []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (cassandraSnapshot) BackupRules(st *plan.Step, add BackupRule) {
	add("", "pods", []string{"get"}, st.Store.Connection.Pod)
	add("", "pods/exec", []string{"create", "get"}, st.Store.Connection.Pod)
}

func (cassandraSnapshot) RestoreContainer(g *manifest.Builder, _ *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, Restic: true, API: true, Env: []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (cassandraSnapshot) RestoreScript(_ *manifest.Builder, r *RestoreJob) string {
	return cassandraRestoreScript(r)
}

func (cassandraSnapshot) RestoreRules(r *RestoreJob, named RestoreRule, _ func()) {
	c := r.Step.Store.Connection
	named("", "pods", []string{"get"}, c.Pod)
	named("", "pods/exec", []string{"create", "get"}, c.Pod)
}

func (cassandraSnapshot) RestoreTarget(r *RestoreJob) (noun, name, kind string) {
	return "keyspace", r.Step.Store.Connection.Keyspace, "Cassandra"
}

func (cassandraSnapshot) RunbookSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob) {
	cassandraSection(rb, m, app, r)
}

// cassandraScript flushes the keyspace, snapshots it with nodetool in the
// Cassandra pod and streams the snapshot directories (SSTables and each
// table's schema.cql) as a tar into restic; the snapshot is cleared on the
// node afterwards, and before, in case a killed run left one.
//
// kubectl exec can end a stream early and still exit 0, and restic
// --stdin-from-command stores whatever a command printed when it exits 0.
// So the command restic runs (tar_check) stages the tar in the Pod's
// emptyDir and proves it whole before restic reads it: tar itself ends an
// archive with two zero blocks after its last member, which a stream cut
// short lacks, and reading it through (not seeking) fails on a member cut
// short. A failing check makes restic store no snapshot.
func cassandraScript(st *plan.Step) string {
	c := st.Store.Connection
	ks := c.Keyspace
	inner := ownershipCheck(ks, c.Pod) + fmt.Sprintf("nodetool clearsnapshot -t odbackup -- %[1]s >&2; nodetool flush %[1]s >&2; nodetool snapshot -t odbackup %[1]s >&2; "+
		"cd %[2]s/%[1]s; tar -cf - */snapshots/odbackup; nodetool clearsnapshot -t odbackup -- %[1]s >&2", ks, strings.TrimRight(c.DataDir, "/"))
	b := shell.ResticScript(st, fmt.Sprintf("odbackup: Cassandra keyspace %s (%s)", ks, st.Store.ID))
	b.WriteString(shell.Var("tar_check", fmt.Sprintf(`set -eu
stage=$(mktemp)
trap 'rm -f "$stage"' EXIT
rc=0
kubectl --namespace="$ODBACKUP_NAMESPACE" exec %[1]s --container=%[2]s -- sh -c %[3]s >"$stage" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "odbackup: kubectl exec of the snapshot of keyspace %[4]s failed (exit $rc); nothing is stored" >&2
	exit 1
fi
size=$(wc -c <"$stage")
if [ "$size" -eq 0 ]; then
	echo "odbackup: the snapshot tar of keyspace %[4]s is empty; nothing is stored" >&2
	exit 1
fi
# tar reads the archive through a pipe: on a file it seeks past members'
# data and never notices one cut short.
end=$(tail -c 1024 "$stage" | od -A n -v -t x1 | tr -d ' 0\n')
if [ $((size %% 512)) -ne 0 ] || [ "$size" -lt 1024 ] || [ -n "$end" ] || ! cat "$stage" | tar -tf - >/dev/null; then
	echo "odbackup: the snapshot tar of keyspace %[4]s ($size bytes) is cut short: it does not end with tar's end-of-archive blocks or a member is incomplete; nothing is stored" >&2
	exit 1
fi
echo "odbackup: the snapshot tar of keyspace %[4]s is whole ($size bytes)" >&2
cat "$stage"
`, shell.Quote(c.Pod), shell.Quote(c.Container), shell.Quote(inner), ks)))
	b.WriteString(shell.ResticBackup(st, ks+".tar", []string{"keyspace=" + ks}, `sh -c "$tar_check"`))
	return b.String()
}

// ownershipCheck starts the pod's part of a backup: the snapshot is of
// one node, which holds every row of the keyspace only when the keyspace's
// replication factor is at least the number of nodes, that is when
// nodetool status says the node owns 100%% of it (effective ownership
// counts replicas). Anything less fails the backup, saying why: a
// snapshot of one node would silently miss rows.
func ownershipCheck(ks, pod string) string {
	return fmt.Sprintf(`set -e
id=$(nodetool info | sed -n 's/^ID *: *//p')
status=$(nodetool status %[1]s)
nodes=$(printf '%%s\n' "$status" | grep -c '^[UD][NLJM] ' || true)
owns=$(printf '%%s\n' "$status" | awk -v id="$id" 'id != "" && index($0, id) { for (i = 1; i <= NF; i++) if ($i ~ /%%$/) print $i }')
case $owns in
100%% | 100.0%% | 100.00%%)
	echo "odbackup: keyspace %[1]s: node %[2]s holds every row ($owns effective ownership, $nodes node(s)): its snapshot is the whole keyspace" >&2
	;;
*)
	echo "odbackup: keyspace %[1]s: node %[2]s holds ${owns:-an unknown share} of its rows (effective ownership, $nodes node(s)); a snapshot of one node is the whole keyspace only when the replication factor is at least the number of nodes. Raise the keyspace's replication factor to $nodes, or back up every node" >&2
	exit 1
	;;
esac
`, ks, pod)
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
echo "odbackup: imported $found table(s) of keyspace %[2]s; nodetool repair -full %[2]s, so that the other replicas get the imported rows"
nodetool repair -full %[2]s
echo "odbackup: keyspace %[2]s imported and repaired"
`, shell.Quote(staging), ks)
	b := shell.ResticRestoreScript(r.Step, "Cassandra keyspace "+ks, false)
	b.WriteString(shell.PodScript(inner))
	fmt.Fprintf(b, `restore_stream %s "$snapshot" %s \
	kubectl --namespace="$ODBACKUP_NAMESPACE" exec --stdin %s --container=%s -- sh -c "$inner"
`, shell.Quote("store="+st.Store.ID), shell.Quote(ks+".tar"), shell.Quote(c.Pod), shell.Quote(c.Container))
	return b.String()
}

func cassandraSection(rb Runbook, m *markdown.Doc, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	staging := path.Join(path.Dir(strings.TrimRight(c.DataDir, "/")), "odbackup-restore-"+c.Keyspace)
	m.Para("What the Job does: it streams %s of the chosen restic snapshot (the SSTables and %s of every table of keyspace %s, as %s took them) into pod %s (container %s), unpacks it in %s, on the same volume as the data, and loads each table with %s. Cassandra checks the SSTables as it imports them.",
		markdown.Code(c.Keyspace+".tar"), markdown.Code("schema.cql"), markdown.Code(c.Keyspace), markdown.Code("nodetool snapshot"), markdown.Code(c.Pod), markdown.Code(c.Container), markdown.Code(staging), markdown.Code("nodetool import"))
	m.Para("Why this way: importing SSTables needs no downtime of Cassandra and keeps the rows' write times. That is also why the tables must be emptied first: Cassandra keeps, for every row, the newest write, so rows written or deleted after the backup would win over the restored ones. Truncate every table of the keyspace before the Job (as %s, password from Secret %s):", markdown.Code(c.User), markdown.Code(c.PasswordSecret.Name))
	inner := fmt.Sprintf(`read -r password || true
rc=$(mktemp)
trap 'rm -f "$rc"' EXIT
printf '[authentication]\nusername = %%s\npassword = %%s\n' %[1]s "$password" >"$rc"
cql() { cqlsh --cqlshrc="$rc" --execute="$1" %[2]s %[3]d; }
tables=$(cql "SELECT table_name FROM system_schema.tables WHERE keyspace_name = '%[4]s'" | awk 'f && NF == 1 { print $1 } $1 ~ /^-+$/ { f = 1 }')
for table in $tables; do
  echo "TRUNCATE %[4]s.$table"
  cql "TRUNCATE %[4]s.$table"
done`, shell.Quote(c.User), c.Host, c.Port, c.Keyspace)
	m.CodeBlock("sh", fmt.Sprintf("%s |\n  %s", rb.SecretCommand(*c.PasswordSecret),
		rb.Kubectl(fmt.Sprintf("exec --stdin %s --container=%s -- sh -c %s", c.Pod, c.Container, shell.Quote(inner)))))
	m.Para("The password goes to %s in a file only the shell in the pod can read (%s, removed when it ends), never on a command line, where other processes could read it.", markdown.Code("cqlsh"), markdown.Code("--cqlshrc"))
	m.Para("One node, the whole keyspace: the backup snapshots pod %s only, which holds every row of %s only when the keyspace's replication factor is at least the number of nodes (%s then shows it owning 100%%). The backup checks this every night and fails, saying so, when the node holds less. After importing, the Job runs %s, so that the other replicas get the restored rows; until it ends, reads at consistency ONE from another node may still see the old ones.",
		markdown.Code(c.Pod), markdown.Code(c.Keyspace), markdown.Code("nodetool status "+c.Keyspace), markdown.Code("nodetool repair -full "+c.Keyspace))
	m.Para("If the keyspace or its tables are gone altogether, let openDesk's deployment create them again (it sets up Dovecot's keyspaces) before the Job: %s needs the tables to exist.", markdown.Code("nodetool import"))
	rb.ApplyCommands(m, r)
}
