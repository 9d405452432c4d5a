package kinds

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// postgresDump backs up a PostgreSQL database with pg_dump --format=custom
// streamed into restic, and restores it with pg_restore in one transaction,
// or, where the policy gives the store a restore scratch volume, staged on
// that volume and with pg_restore --jobs.
type postgresDump struct{ Restic }

// methodPgDump names the kind.
const methodPgDump plan.Method = "pg_dump"

func (postgresDump) Method() plan.Method { return methodPgDump }

func (postgresDump) Backs(st *schema.SiteStore) bool { return st.Kind == "postgresql" }

func (postgresDump) GroupOrder() int { return 1 }

func (postgresDump) BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: PostgresImage(pol), Restic: true, Script: pgDumpScript(st), Env: postgresEnv(st.Store.Connection)}
}

func (postgresDump) BackupRules(*plan.Step, BackupRule) {}

func (postgresDump) RestoreContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	c := manifest.Container{Image: PostgresImage(pol), Restic: true, Env: postgresEnv(st.Store.Connection)}
	if st.Store.Decision.RestoreScratch != nil {
		// Where the script stages the dump comes from the environment,
		// as a drill's scratch folder does: the tests point it elsewhere.
		c.Env = append(c.Env, manifest.Literal("ODBACKUP_SCRATCH", scratchDir))
		c.Mounts = append(c.Mounts, corev1.VolumeMount{Name: "scratch", MountPath: scratchDir})
	}
	return c
}

// scratchDir is where a restore Job mounts its scratch volume.
const scratchDir = "/scratch"

// RestorePod gives a restore with a scratch volume that volume: a generic
// ephemeral volume, whose claim Kubernetes creates from the template when
// the pod starts and deletes with the pod, so nothing is left to clean up
// and two runs never share a volume. Pod Security "restricted" allows
// ephemeral volumes. A new volume's root belongs to root: fsGroup gives
// the Job's unprivileged user (whose group it is) the right to write.
func (postgresDump) RestorePod(st *plan.Step, pod *corev1.PodSpec) {
	sc := st.Store.Decision.RestoreScratch
	if sc == nil {
		return
	}
	claim := corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		// The schema admits only sizes that parse (#RestoreScratch).
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(sc.Size)}},
	}
	if sc.StorageClass != "" {
		claim.StorageClassName = ptr.To(sc.StorageClass)
	}
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{
		Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
			ObjectMeta: metav1.ObjectMeta{Labels: manifest.ObjectLabels(st.Job.Site, st.Store.App)},
			Spec:       claim,
		}},
	}})
	pod.SecurityContext.FSGroup = ptr.To[int64](manifest.RunAsUser)
}

func (postgresDump) RestoreScript(_ *manifest.Builder, r *RestoreJob) string {
	return pgRestoreScript(r)
}

func (postgresDump) RestoreRules(*RestoreJob, RestoreRule, func()) {}

func (postgresDump) RestoreTarget(r *RestoreJob) (noun, name, kind string) {
	return "database", r.Step.Store.Connection.Database, "PostgreSQL"
}

func (postgresDump) RunbookSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob) {
	postgresSection(rb, m, app, r)
}

func (postgresDump) StoreCheck(_ Runbook, r *RestoreJob) string {
	st := r.Step
	done := markdown.Code("odbackup: database " + st.Store.Connection.Database + " restored")
	if st.Store.Decision.RestoreScratch != nil {
		return fmt.Sprintf("%s: the Job's log ends with %s. pg_restore ran in parallel, not in one transaction: a Job that failed after its log says %s left the database partly restored (see the store's section).", markdown.Code(st.Store.ID), done, markdown.Code("pg_restore --jobs"))
	}
	return fmt.Sprintf("%s: the Job's log ends with %s; pg_restore ran in one transaction, so the database is either fully restored or unchanged.", markdown.Code(st.Store.ID), done)
}

func pgDumpScript(st *plan.Step) string {
	c := st.Store.Connection
	b := shell.ResticScript(st, fmt.Sprintf("odbackup: PostgreSQL database %s (%s)", c.Database, st.Store.ID))
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
	b.WriteString(shell.ResticBackup(st, c.Database+".pgdump", nil,
		`${buffer:+stdbuf "$buffer"} pg_dump --format=custom --compress=0 --no-password --dbname="$PGDATABASE"`))
	return b.String()
}

// PostgresImage is the image the policy pins, or the official image of the
// policy's PostgreSQL version.
func PostgresImage(pol *schema.Policy) string {
	if pol.Images.PostgreSQL != "" {
		return pol.Images.PostgreSQL
	}
	return postgresImages[pol.Services.PostgreSQL.Version]
}

// postgresEnv is how psql, pg_dump and pg_restore reach a store's database.
func postgresEnv(c schema.Connection) []corev1.EnvVar {
	return []corev1.EnvVar{manifest.Literal("PGHOST", c.Host), manifest.Literal("PGPORT", fmt.Sprint(c.Port)),
		manifest.Literal("PGUSER", c.User), manifest.Literal("PGDATABASE", c.Database), manifest.FromSecret("PGPASSWORD", *c.PasswordSecret)}
}

// pgRestoreScript restores a pg_dump in one transaction: objects of the
// dump are dropped and created again, owned by the connecting user; if
// anything fails, the database is left as it was. With a scratch volume
// it restores in parallel (pgParallelRestore).
func pgRestoreScript(r *RestoreJob) string {
	st := r.Step
	db := st.Store.Connection.Database
	b := shell.ResticRestoreScript(r.Step, "PostgreSQL database "+db, false)
	if sc := st.Store.Decision.RestoreScratch; sc != nil {
		b.WriteString(pgParallelRestore(st, sc))
		return b.String()
	}
	fmt.Fprintf(b, `echo "odbackup: pg_restore of %[1]s.pgdump (snapshot $snapshot) into database $PGDATABASE on $PGHOST:$PGPORT as $PGUSER"
restore_stream %[2]s "$snapshot" %[1]s.pgdump \
	pg_restore --clean --if-exists --no-owner --single-transaction --no-password --dbname="$PGDATABASE"
echo "odbackup: database $PGDATABASE restored"
`, shell.Quote(db), shell.Quote("store="+st.Store.ID))
	return b.String()
}

// pgParallelRestore stages the dump on the scratch volume and restores it
// with pg_restore --jobs, which reads the archive's parts at several
// offsets at once and so needs a file (the pg_restore manual: "the input
// must be a regular file or directory"). --jobs cannot run in one
// transaction, so the guarantee of the streaming restore (all or nothing)
// holds only up to the start of pg_restore: everything that can fail
// before (snapshot, dump, size check, a file pg_restore cannot read)
// fails with the database untouched; once pg_restore has started,
// --exit-on-error stops it at the first error, and the database is partly
// restored. The script says so, and what to do (the runbook repeats it).
func pgParallelRestore(st *plan.Step, sc *schema.RestoreScratch) string {
	db := st.Store.Connection.Database
	file := db + ".pgdump"
	return shell.RestoreStageFunc(st.Job.Site) + fmt.Sprintf(`stage=$ODBACKUP_SCRATCH/%[1]s
trap 'rm -f "$stage"' EXIT
restore_stage %[2]s "$snapshot" %[1]s "$stage"
pg_restore --list "$stage" >/dev/null || {
	echo "odbackup: the staged %[1]s is not an archive pg_restore can read; nothing was restored" >&2
	exit 1
}
echo "odbackup: pg_restore --jobs=%[3]d of %[1]s (snapshot $id) into database $PGDATABASE on $PGHOST:$PGPORT as $PGUSER"
restored=0
pg_restore --clean --if-exists --no-owner --exit-on-error --jobs=%[3]d --no-password --dbname="$PGDATABASE" "$stage" || restored=$?
if [ "$restored" -ne 0 ]; then
	echo "odbackup: pg_restore failed (exit $restored). It does not run in one transaction: database $PGDATABASE may be partly restored. Keep the app stopped, recreate the database as the runbook says, and run this Job again." >&2
	exit 1
fi
echo "odbackup: database $PGDATABASE restored"
`, shell.Quote(file), shell.Quote("store="+st.Store.ID), sc.Jobs)
}

func postgresSection(rb Runbook, m *markdown.Doc, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	target := markdown.Code(fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database))
	sc := st.Store.Decision.RestoreScratch
	if sc == nil {
		m.Para("What the Job does: it streams the dump %s of the chosen restic snapshot into %s, which connects to %s as %s (the app's own user, password from Secret %s) and, in one transaction, drops every object the dump contains and creates it again from the dump, owned by %s. If anything fails, the transaction rolls back and the database is as it was.",
			markdown.Code(c.Database+".pgdump"), markdown.Code("pg_restore --clean --if-exists --no-owner --single-transaction"),
			target, markdown.Code(c.User), markdown.Code(c.PasswordSecret.Name), markdown.Code(c.User))
	} else {
		class := "the cluster's default storage class"
		if sc.StorageClass != "" {
			class = "storage class " + markdown.Code(sc.StorageClass)
		}
		m.Para("What the Job does: the policy gives this store a restore scratch volume (%s), so the Job restores in parallel. Its pod gets a volume of %s (%s) that Kubernetes creates with the pod and deletes with it. The Job copies the dump %s of the chosen restic snapshot onto it and checks that the copy is whole (restic's exit status, and exactly the size the snapshot records). Then %s connects to %s as %s (the app's own user, password from Secret %s; up to %d connections at once, one per job), drops every object the dump contains and creates it again from the dump, owned by %s, loading %d tables and indexes at a time.",
			markdown.Code("restoreScratch"), markdown.Code(sc.Size), class, markdown.Code(c.Database+".pgdump"),
			markdown.Code(fmt.Sprintf("pg_restore --clean --if-exists --no-owner --exit-on-error --jobs=%d", sc.Jobs)),
			target, markdown.Code(c.User), markdown.Code(c.PasswordSecret.Name), sc.Jobs, markdown.Code(c.User), sc.Jobs)
		m.Para("What differs from the streaming restore: parallel jobs cannot share one transaction. Whatever fails before pg_restore starts (no such snapshot, the dump cut short, a volume too small: the log says %s) leaves the database as it was. Once the log says %s, a failure stops pg_restore at the first error and leaves the database partly restored: keep the app stopped, recreate the database as below, and run the Job again. A pod that cannot start because its volume is never bound (%s shows its claim, named after the pod and ending in %s, Pending) changed nothing: fix the class or the size in the policy, rebuild, and apply again.",
			markdown.Code("nothing was restored"), markdown.Code("pg_restore --jobs"), markdown.Code("kubectl get pvc"), markdown.Code("-scratch"))
		m.Para("Which way is right: the nightly dump reaches restic through a pipe, so its archive records no data offsets, and each of pg_restore's jobs reads through the archive (one block per row) to find its tables. On odbackup's benchmark (a 1 GiB pgbench database, 2 cores) that made the parallel restore 2.2 times as slow as streaming. It can pay off only where the server's time goes into many large indexes and the rows are wide (few blocks per GiB), on a server with cores to spare; the app's user then holds up to %d connections instead of one. Time both ways on a copy before you rely on it. Without %s in the policy this Job streams, in one transaction (README, \"Restoring large PostgreSQL databases\").",
			sc.Jobs, markdown.Code("restoreScratch"))
	}
	m.Para("Why this way: the database keeps its owner, encoding and collation, and the app's user needs no more rights than it has every day. Objects the dump does not contain stay, though: tables a newer version of the app added after the backup, for example.")
	again := ""
	if sc != nil {
		again = ", when an earlier run of this Job failed after pg_restore had started"
	}
	m.Para("Recreate the database first, before you run the Job below, when the database is gone, damaged beyond repair%s, or when you are rolling back an upgrade (the upgrade may have added tables that the old version trips over). This needs a PostgreSQL superuser: on openDesk's bundled server that is %s with the password the helmfile's %s holds; on a server of your own, the DBA's account. Start %s in a throw-away Pod:",
		again, markdown.Code("postgres"), markdown.Code("secrets.postgresql.postgresUser"), markdown.Code("psql"))
	image := PostgresImage(rb.Policy())
	m.CodeBlock("sh", rb.ThrowAwayPod("odbackup-psql", image, nil, true,
		"psql", fmt.Sprintf("--host=%s", c.Host), fmt.Sprintf("--port=%d", c.Port), "--username=postgres", "--dbname=postgres"))
	create := fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgIdent(c.Database), pgIdent(c.User))
	if o := st.Store.Restore.DatabaseOptions; o != "" {
		create += " " + o
	}
	m.Para("and at its prompt (%s ends connections that are still open; the app is stopped, so none should be):", markdown.Code("WITH (FORCE)"))
	m.CodeBlock("sql", fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\n%s;", pgIdent(c.Database), create))
	if o := st.Store.Restore.DatabaseOptions; o != "" {
		m.Para("The options %s are how openDesk creates this database; %s needs them.", markdown.Code(o), st.Store.App)
	}
	rb.ApplyCommands(m, r)
}

// pgIdent quotes a PostgreSQL identifier when it needs quotes.
func pgIdent(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" && (s[0] < '0' || s[0] > '9') {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// Drills: every PostgreSQL dump is drilled.
func (postgresDump) Drills(*schema.SiteStore) bool { return true }

// drillContainer runs the drill in the policy's PostgreSQL image as the
// image's own user (postgres, uid 999 in the official Debian images):
// initdb and postgres refuse a user they cannot find in /etc/passwd.
func (postgresDump) DrillContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	return manifest.Container{Image: PostgresImage(g.Plan.Site.Policy), Restic: true, User: postgresUID, Script: pgDrillScript(st)}
}

// postgresUID is the postgres user of the official Debian images.
const postgresUID = 999

func (postgresDump) DrillNoun() string { return "PostgreSQL dumps" }

func (postgresDump) DrillChecks(st *plan.Step) string {
	return sqlDrillChecks(st, "pg_restore")
}

// sqlDrillChecks says what a database drill checks.
func sqlDrillChecks(st *plan.Step, loader string) string {
	s := fmt.Sprintf("the newest dump loads with %s into a scratch server in the drill's pod, and the restored database has tables", markdown.Code(loader))
	if d := st.Store.Drill; d != nil {
		s += fmt.Sprintf("; %s returns a row", markdown.Code(d.Check))
	}
	return s
}

// pgDrillScript restores the newest dump into a throwaway PostgreSQL
// server (initdb in the scratch folder, reachable only by its Unix
// socket there) and checks it.
func pgDrillScript(st *plan.Step) string {
	c := st.Store.Connection
	file := c.Database + ".pgdump"
	b := shell.DrillHeader(st, "PostgreSQL database "+c.Database)
	// The official images put initdb and pg_ctl in
	// /usr/lib/postgresql/<major>/bin, on their PATH, which the pod's
	// PATH replaces.
	b.WriteString(`if ! command -v initdb >/dev/null 2>&1; then
	for dir in /usr/lib/postgresql/*/bin; do
		if [ -x "$dir/initdb" ]; then
			PATH=$dir:$PATH
		fi
	done
fi
command -v initdb >/dev/null 2>&1 || fail "initdb is not in this image"
`)
	b.WriteString(shell.DrillFetch(st.Job.Site, "store="+st.Store.ID, file, "dump"))
	b.WriteString(`initdb --pgdata="$scratch/data" --username=odbackup --auth=trust --no-sync >"$scratch/initdb.log" 2>&1 || {
	cat "$scratch/initdb.log" >&2
	fail "initdb of the scratch server failed"
}
stop_server() {
	pg_ctl --pgdata="$scratch/data" --mode=immediate stop >/dev/null 2>&1 || true
}
trap stop_server EXIT
pg_ctl --pgdata="$scratch/data" --log="$scratch/server.log" --wait \
	--options="-c listen_addresses='' -k $scratch -c fsync=off" start >/dev/null || {
	cat "$scratch/server.log" >&2
	fail "the scratch server did not start"
}
export PGHOST="$scratch" PGUSER=odbackup PGDATABASE=drill
unset PGPASSWORD PGPORT PGSERVICE
psql --no-psqlrc --quiet --dbname=postgres --command="CREATE DATABASE drill" >/dev/null ||
	fail "cannot create the scratch database"
pg_restore --no-owner --no-privileges --exit-on-error --dbname=drill "$scratch/dump" 2>"$scratch/restore.log" || {
	cat "$scratch/restore.log" >&2
	fail "pg_restore of the newest dump failed: $(tail -n 1 "$scratch/restore.log")"
}
tables=$(psql --no-psqlrc --no-align --tuples-only --set=ON_ERROR_STOP=1 \
	--command="SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')") ||
	fail "cannot count the restored tables"
if [ "$tables" -eq 0 ]; then
	fail "the restored database has no tables"
fi
echo "odbackup drill: $tables tables restored"
`)
	if d := st.Store.Drill; d != nil {
		fmt.Fprintf(b, `check=%s
answer=$(psql --no-psqlrc --no-align --tuples-only --set=ON_ERROR_STOP=1 --command="$check" 2>"$scratch/check.log") ||
	fail "the sanity check $check failed: $(head -n 1 "$scratch/check.log")"
`, shell.Quote(d.Check))
		b.WriteString(drillAnswer)
	}
	b.WriteString(shell.DrillPassed(st, "database "+c.Database+" restores and checks out"))
	return b.String()
}

// drillAnswer fails a drill whose sanity check returned no row, or a
// first column that is false.
const drillAnswer = `first=$(printf '%s\n' "$answer" | head -n 1 | cut -d '|' -f 1)
first=$(printf '%s' "$first" | cut -f 1)
case $first in
"" | f | false | 0 | NULL) fail "the sanity check $check does not hold (it returned ${first:-no row})" ;;
esac
echo "odbackup drill: the sanity check $check holds"
`

// postgresImages are the official images per major version; pg_dump must be
// at least the server's major version. The Debian variants, not Alpine:
// the backup gives pg_dump a larger output buffer with coreutils' stdbuf
// (see pgDumpScript), which Alpine's busybox lacks.
var postgresImages = map[int]string{
	13: "docker.io/library/postgres:13.22-bookworm",
	14: "docker.io/library/postgres:14.19-bookworm",
	15: "docker.io/library/postgres:15.14-bookworm",
	16: "docker.io/library/postgres:16.10-bookworm",
	17: "docker.io/library/postgres:17.6-bookworm",
	18: "docker.io/library/postgres:18.0-bookworm",
}
