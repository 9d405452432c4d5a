package kinds

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// mariadbDump backs up MariaDB databases with mariadb-dump, one restic
// snapshot per database; wildcard identifiers are resolved at run time.
type mariadbDump struct{ Restic }

// methodMariaDBDump names the kind.
const methodMariaDBDump plan.Method = "mariadb-dump"

func (mariadbDump) Method() plan.Method { return methodMariaDBDump }

func (mariadbDump) Backs(st *schema.SiteStore) bool { return st.Kind == "mariadb" }

func (mariadbDump) GroupOrder() int { return 1 }

func (mariadbDump) BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.MariaDB, Restic: true, Script: mariadbDumpScript(st), Env: mariadbEnv(st.Store.Connection)}
}

func (mariadbDump) BackupRules(*plan.Step, BackupRule) {}

func (mariadbDump) RestoreContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.MariaDB, Restic: true, Env: mariadbEnv(st.Store.Connection)}
}

func (mariadbDump) RestoreScript(_ *manifest.Builder, r *RestoreJob) string {
	return mariadbRestoreScript(r)
}

func (mariadbDump) RestoreRules(*RestoreJob, RestoreRule, func()) {}

func (mariadbDump) RestoreTarget(r *RestoreJob) (noun, name, kind string) {
	c := r.Step.Store.Connection
	if strings.HasSuffix(c.Database, "*") {
		return "databases", c.Database, "MariaDB"
	}
	return "database", c.Database, "MariaDB"
}

func (mariadbDump) RunbookSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob) {
	mariadbSection(rb, m, app, r)
}

func (mariadbDump) SnapshotMeaning() string {
	return "one or more restic snapshot IDs (8 or more hex digits), separated by spaces: one per database"
}

// likePattern turns a catalog wildcard ("PRIMARYDB_*") into a LIKE pattern
// matching it literally ("PRIMARYDB\_%").
func likePattern(name string) string {
	r := strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`)
	return r.Replace(strings.TrimSuffix(name, "*")) + "%"
}

// mariadbDumpScript dumps each database into a snapshot of its own. A
// database that fails does not stop the others: the step fails at the end
// naming every one that failed. When every database of a wildcard was
// stored, a last snapshot (databases.txt, tagged databases) lists them:
// the mark of a complete run, which a restore of "latest" restores.
func mariadbDumpScript(st *plan.Step) string {
	c := st.Store.Connection
	b := shell.ResticScript(st, fmt.Sprintf("odbackup: MariaDB database(s) %s (%s)", c.Database, st.Store.ID))
	client := `--host="$MARIADB_HOST" --port="$MARIADB_PORT" --user="$MARIADB_USER"`
	wildcard := strings.HasSuffix(c.Database, "*")
	if wildcard {
		fmt.Fprintf(b, "pattern=%s\n", shell.Quote(likePattern(c.Database)))
		fmt.Fprintf(b, "databases=$(mariadb %s --batch --skip-column-names --execute=\"SHOW DATABASES LIKE '$pattern'\")\n", client)
		if why := st.Store.MayMatchNothing; why != "" {
			fmt.Fprintf(b, "if [ -z \"$databases\" ]; then\n\techo \"odbackup: no database on $MARIADB_HOST matches %s; nothing to back up, as expected when \"%s\n\texit 0\nfi\n", c.Database, shell.Quote(why))
		} else {
			fmt.Fprintf(b, "if [ -z \"$databases\" ]; then\n\techo \"odbackup: no database on $MARIADB_HOST matches %s: the user $MARIADB_USER may have lost its privileges, the host may be wrong or the prefix renamed; nothing was backed up\" >&2\n\texit 1\nfi\n", c.Database)
		}
	} else {
		fmt.Fprintf(b, "databases=%s\n", shell.Quote(c.Database))
	}
	// mariadb-dump writes through stdio, flushed into the pipe every
	// 4 KiB: 53,000 writes for a 207 MiB dump, each waking restic. stdbuf
	// (coreutils, in the MariaDB image, which is Ubuntu) gives it a 1 MiB
	// buffer, as pgDumpScript does for pg_dump; without stdbuf it runs
	// unbuffered. --skip-dump-date: the dump's last line would otherwise
	// carry the time, and a second night of unchanged databases stored a
	// new last chunk of each (bench/mariadb-path.sh: 8.8 MiB against
	// 32 KiB without it).
	b.WriteString("buffer=\nif command -v stdbuf >/dev/null 2>&1; then\n\tbuffer=--output=1M\nfi\n")
	b.WriteString("failed=\nfor db in $databases; do\n")
	b.WriteString("\techo \"odbackup: mariadb-dump of database $db on $MARIADB_HOST:$MARIADB_PORT\"\n\trc=0\n\t")
	call := shell.ResticBackup(st, "$db.sql", []string{"database=$db"},
		`${buffer:+stdbuf "$buffer"} mariadb-dump `+client+` --single-transaction --skip-dump-date --routines --events --triggers --databases "$db"`)
	b.WriteString(strings.ReplaceAll(strings.TrimSuffix(call, "\n"), "\n\t", "\n\t\t") + " || rc=$?\n")
	b.WriteString("\tif [ \"$rc\" -ne 0 ]; then\n\t\techo \"odbackup: database $db failed (exit $rc); going on with the others\" >&2\n\t\tfailed=\"$failed $db\"\n\tfi\n")
	b.WriteString("done\n")
	fmt.Fprintf(b, "if [ -n \"$failed\" ]; then\n\techo \"odbackup: database(s) of %s that failed:$failed\" >&2\n\texit 1\nfi\n", st.Store.ID)
	if wildcard {
		b.WriteString("# Every database matching the pattern was stored: list them, the mark\n# of a complete run.\n")
		b.WriteString("list=${TMPDIR:-/tmp}/odbackup-databases.txt\necho \"$databases\" >\"$list\"\n")
		b.WriteString(shell.ResticBackup(st, "databases.txt", []string{"databases"}, `cat "$list"`))
		b.WriteString("rm -f \"$list\"\n")
	}
	return b.String()
}

// mariadbEnv is how mariadb and mariadb-dump reach a store's server.
func mariadbEnv(c schema.Connection) []corev1.EnvVar {
	return []corev1.EnvVar{manifest.Literal("MARIADB_HOST", c.Host), manifest.Literal("MARIADB_PORT", fmt.Sprint(c.Port)),
		manifest.Literal("MARIADB_USER", c.User), manifest.FromSecret("MYSQL_PWD", *c.PasswordSecret)}
}

// mariadbRestoreScript feeds each database's dump to the mariadb client.
// The dumps were taken with --databases: each one creates its database if
// needed, selects it and drops and recreates every table it holds.
//
// For a wildcard store, "latest" is the newest complete run: the newest
// databases.txt (stored only when every database of a run was), and of
// that run exactly the databases it lists, so nights are never mixed and a
// database dropped since does not come back.
func mariadbRestoreScript(r *RestoreJob) string {
	st := r.Step
	c := st.Store.Connection
	tag := "store=" + st.Store.ID
	b := shell.ResticRestoreScript(r.Step, "MariaDB database(s) "+c.Database, true)
	client := `mariadb --host="$MARIADB_HOST" --port="$MARIADB_PORT" --user="$MARIADB_USER"`
	latest := fmt.Sprintf(`	echo "odbackup: restoring database %[1]s (newest snapshot) on $MARIADB_HOST:$MARIADB_PORT"
	restore_stream %[2]s latest %[3]s %[4]s
`, c.Database, shell.Quote(tag+",database="+c.Database), shell.Quote(c.Database+".sql"), client)
	if strings.HasSuffix(c.Database, "*") {
		latest = fmt.Sprintf(`	# The newest complete run, and the databases it holds.
	json=$(restic snapshots --no-lock --host=%[1]s --tag=%[2]s --latest=1 --json)
	run=$(printf '%%s\n' "$json" | grep -o '"run=[^"]*"' | sed 's/^"run=//; s/"$//' | tail -n 1)
	if [ -z "$run" ]; then
		echo "odbackup: no complete run of %[3]s at site %[4]s (a run is complete when every database it found was stored); give snapshot IDs, see ODBACKUP_SNAPSHOT=list" >&2
		exit 1
	fi
	databases=$(restic dump --no-lock --host=%[1]s --tag=%[5]s latest databases.txt)
	echo "odbackup: restoring run $run of %[3]s, its databases:"
	echo "$databases"
	for db in $databases; do
		echo "odbackup: restoring database $db (run $run) on $MARIADB_HOST:$MARIADB_PORT"
		restore_stream "%[6]s,run=$run,database=$db" latest "$db.sql" %[7]s
	done
`, shell.Quote(st.Job.Site), shell.Quote(tag+",databases"), st.Store.ID, st.Job.Site, `"`+tag+`,run=$run,databases"`, tag, client)
	}
	fmt.Fprintf(b, `# database_of prints the database a snapshot holds, from its database= tag.
database_of() {
	sed -n 's/.*"database=\([^"]*\)".*/\1/p' | head -n 1
}
if [ "$snapshot" = latest ]; then
%[1]selse
	for id in $snapshot; do
		json=$(restic snapshots --no-lock --json "$id")
		db=$(printf '%%s\n' "$json" | grep -o '"database=[^"]*"' | database_of)
		echo "odbackup: restoring database $db (snapshot $id) on $MARIADB_HOST:$MARIADB_PORT"
		restore_stream %[2]s "$id" "$db.sql" %[3]s
	done
fi
echo "odbackup: MariaDB database(s) restored on $MARIADB_HOST:$MARIADB_PORT"
`, latest, shell.Quote(tag), client)
	return b.String()
}

func mariadbSection(rb Runbook, m *markdown.Doc, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	which := "the database " + markdown.Code(c.Database)
	if strings.HasSuffix(c.Database, "*") {
		which = "every database matching " + markdown.Code(c.Database) + " (each was backed up as a snapshot of its own, tagged " + markdown.Code("database=…") + ")"
	}
	m.Para("What the Job does: for %s it streams the dump (one file per database, named after it, with %s) of the chosen restic snapshot into the %s client, connected to %s as %s (password from Secret %s). The dumps were taken with %s: each one creates its database if it is missing, and drops and creates again every table it holds.",
		which, markdown.Code(".sql"), markdown.Code("mariadb"), markdown.Code(fmt.Sprintf("%s:%d", c.Host, c.Port)), markdown.Code(c.User), markdown.Code(c.PasswordSecret.Name), markdown.Code("mariadb-dump --databases"))
	if strings.HasSuffix(c.Database, "*") {
		m.Para("With %s, the Job restores the newest complete run: every backup Job's run tags its snapshots %s, and a run that stored every database matching %s also stores %s, the list of them. The Job restores exactly the databases of that list, from that run: nights are never mixed, and a database removed since does not come back. A run in which a database failed is not complete and is skipped. To restore other databases, give their snapshot IDs, separated by spaces.", markdown.Code("latest"), markdown.Code("run=…"), markdown.Code(c.Database), markdown.Code("databases.txt"))
	}
	m.Para("Why this way: a logical dump restores into any MariaDB of a compatible version, and tables come back whole. Tables that exist only in the live database stay; a restore that stopped half-way has restored some tables and not others, so run it again to the end.")
	rb.ApplyCommands(m, r)
	m.Para("To get exactly the backup's state (for example when rolling back an upgrade), drop the database first, as %s, in a throw-away %s; at its prompt run %s (one statement per database), then the Job:",
		markdown.Code(c.User), markdown.Code("mariadb"), markdown.Code("DROP DATABASE"))
	m.CodeBlock("sh", rb.ThrowAwayPod("odbackup-mariadb", rb.Policy().Images.MariaDB, manifest.EnvNamed(mariadbEnv(c), "MYSQL_PWD"), true,
		"mariadb", "--host="+c.Host, fmt.Sprintf("--port=%d", c.Port), "--user="+c.User))
}

// Drills: every MariaDB dump is drilled.
func (mariadbDump) Drills(*schema.SiteStore) bool { return true }

// mariadbUID is the mysql user of the official MariaDB images.
const mariadbUID = 999

// drillContainer runs the drill in the policy's MariaDB image as the
// image's own user, which mariadb-install-db and mariadbd run as.
func (mariadbDump) DrillContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	return manifest.Container{Image: g.Plan.Site.Policy.Images.MariaDB, Restic: true, User: mariadbUID, Script: mariadbDrillScript(st)}
}

func (mariadbDump) DrillNoun() string { return "MariaDB dumps" }

func (mariadbDump) DrillChecks(st *plan.Step) string {
	return sqlDrillChecks(st, "mariadb")
}

// mariadbDrillScript loads the newest dump of every database the store
// has backed up into a throwaway MariaDB server (mariadb-install-db in
// the scratch folder, reachable only by its socket there) and checks
// each database.
func mariadbDrillScript(st *plan.Step) string {
	c := st.Store.Connection
	b := shell.DrillHeader(st, "MariaDB database(s) "+c.Database)
	// A wildcard store whose pattern matched no database backs up
	// nothing, on purpose (OX Guard may not be in use): nothing to drill.
	// A named database without a snapshot is a failed drill.
	noSnapshot := fmt.Sprintf(`fail "no snapshot of the store at site %s"`, st.Job.Site)
	if strings.HasSuffix(c.Database, "*") {
		noSnapshot = fmt.Sprintf("echo \"odbackup drill passed: %s: no database matched %s at backup time; nothing to drill\"\n\texit 0", st.Store.ID, c.Database)
	}
	fmt.Fprintf(b, `json=$(restic snapshots --no-lock --host=%[1]s --tag=%[2]s --json) ||
	fail "cannot list the snapshots of the store"
databases=$(printf '%%s\n' "$json" | grep -o '"database=[^"]*"' | sed 's/^"database=//; s/"$//' | sort -u)
if [ -z "$databases" ]; then
	%[5]s
fi
for db in $databases; do
	restic dump --no-lock --host=%[1]s --tag="%[4]s,database=$db" latest "$db.sql" >"$scratch/$db.sql" ||
		fail "restic dump of $db.sql from the newest snapshot failed"
	echo "odbackup drill: $(wc -c <"$scratch/$db.sql") bytes of $db.sql restored from the newest snapshot"
	# A dump cut between two statements loads without an error; mariadb-dump
	# ends every complete dump with this comment.
	if ! tail -n 1 "$scratch/$db.sql" | grep -q '^-- Dump completed'; then
		fail "the newest dump of $db is cut short: it does not end with mariadb-dump's \"-- Dump completed\" line"
	fi
done
mariadb-install-db --no-defaults --datadir="$scratch/data" --auth-root-authentication-method=normal \
	--skip-test-db >"$scratch/install.log" 2>&1 || {
	cat "$scratch/install.log" >&2
	fail "mariadb-install-db of the scratch server failed"
}
mariadbd --no-defaults --datadir="$scratch/data" --socket="$scratch/mariadb.sock" --skip-networking \
	--pid-file="$scratch/mariadb.pid" --log-error="$scratch/server.log" --innodb-buffer-pool-size=64M &
server=$!
stop_server() {
	kill "$server" 2>/dev/null || true
	wait "$server" 2>/dev/null || true
}
trap stop_server EXIT
sql() {
	mariadb --no-defaults --socket="$scratch/mariadb.sock" --user=root "$@"
}
tries=0
until sql --execute="SELECT 1" >/dev/null 2>&1; do
	tries=$((tries + 1))
	if [ "$tries" -ge 120 ] || ! kill -0 "$server" 2>/dev/null; then
		cat "$scratch/server.log" >&2 || true
		fail "the scratch server did not start"
	fi
	sleep 1
done
for db in $databases; do
	sql <"$scratch/$db.sql" 2>"$scratch/load.log" || {
		cat "$scratch/load.log" >&2
		fail "loading the newest dump of $db failed: $(tail -n 1 "$scratch/load.log")"
	}
	tables=$(sql --batch --skip-column-names \
		--execute="SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$db'") ||
		fail "cannot count the tables of $db"
	if [ "$tables" -eq 0 ]; then
		fail "database $db restored without tables"
	fi
	echo "odbackup drill: database $db: $tables tables restored"
`, shell.Quote(st.Job.Site), shell.Quote("store="+st.Store.ID), st.Job.Site, "store="+st.Store.ID, noSnapshot)
	if d := st.Store.Drill; d != nil {
		fmt.Fprintf(b, `	check=%s
	answer=$(sql --batch --skip-column-names --database="$db" --execute="$check" 2>"$scratch/check.log") ||
		fail "the sanity check $check failed on $db: $(head -n 1 "$scratch/check.log")"
%s`, shell.Quote(d.Check), indent(drillAnswer))
	}
	b.WriteString("done\n")
	b.WriteString(shell.DrillPassed(st, "database(s) "+c.Database+" restore and check out"))
	return b.String()
}

// indent puts a tab before every line of s.
func indent(s string) string {
	return "\t" + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n\t") + "\n"
}
