package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// EnsurePGRole creates a login role (not a superuser) and returns its
// password. Roles are cluster-wide and the catalog names the apps' users
// (matrix_user, ...), so tests, also parallel ones, share them: the
// password is fixed per role. Each role is set up once per test binary,
// under a lock: two sessions altering one role at the same time fail with
// "tuple concurrently updated".
func (e *Env) EnsurePGRole(t testing.TB, role string) string {
	t.Helper()
	password := "e2e-" + role
	pgRoles.Lock()
	defer pgRoles.Unlock()
	if pgRoles.ready[role] {
		return password
	}
	e.MustPsql(t, "", fmt.Sprintf(`DO $$ BEGIN
	CREATE ROLE %[1]q LOGIN NOSUPERUSER PASSWORD '%[2]s';
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
ALTER ROLE %[1]q LOGIN NOSUPERUSER PASSWORD '%[2]s';`, role, password))
	pgRoles.ready[role] = true
	return password
}

// pgRoles are the roles EnsurePGRole has set up.
var pgRoles = struct {
	sync.Mutex
	ready map[string]bool
}{ready: map[string]bool{}}

// PsqlAs runs sql in db as role (over TCP, with its password).
func (e *Env) PsqlAs(t testing.TB, db, role, password, sql string) string {
	t.Helper()
	env := e.PGEnv(db)
	env["PGUSER"], env["PGPASSWORD"] = role, password
	return MustRun(t, Cmd{
		Args:  []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-f", "-"},
		Env:   env,
		Stdin: strings.NewReader(sql),
	})
}

// PGFingerprint describes a database completely enough that two equal
// fingerprints mean the same data: the schema (pg_dump --schema-only), the
// database's encoding, collation and owner, for every table its row count
// and an ordered checksum of its rows, every sequence's position, and every
// large object's checksum.
type PGFingerprint struct {
	Schema, Database, Tables, Sequences, LargeObjects string
}

func (f PGFingerprint) diff(g PGFingerprint) string {
	var b strings.Builder
	for _, c := range []struct{ name, a, b string }{
		{"database", f.Database, g.Database},
		{"tables", f.Tables, g.Tables},
		{"sequences", f.Sequences, g.Sequences},
		{"large objects", f.LargeObjects, g.LargeObjects},
		{"schema", f.Schema, g.Schema},
	} {
		if c.a != c.b {
			fmt.Fprintf(&b, "--- %s differ ---\nwant:\n%s\ngot:\n%s\n", c.name, tail(c.a), tail(c.b))
		}
	}
	return b.String()
}

// restrictLine matches the \restrict lines of newer pg_dump releases: a
// random key per run.
var restrictLine = regexp.MustCompile(`(?m)^\\(un)?restrict .*$`)

// Fingerprint reads db's fingerprint as the superuser.
func (e *Env) Fingerprint(t testing.TB, db string) PGFingerprint {
	t.Helper()
	var f PGFingerprint
	f.Schema = MustRun(t, Cmd{Args: []string{"pg_dump", "--schema-only", "--no-password"}, Env: e.PGEnv(db)})
	f.Schema = restrictLine.ReplaceAllString(f.Schema, "")
	f.Database = e.MustPsql(t, db, `SELECT pg_encoding_to_char(encoding), datcollate, datctype, pg_get_userbyid(datdba)
FROM pg_database WHERE datname = current_database();`)
	tables := e.MustPsql(t, db, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1;`)
	var q strings.Builder
	for _, tbl := range strings.Fields(tables) {
		fmt.Fprintf(&q, "SELECT %s, count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM %s t;\n",
			"'"+strings.ReplaceAll(tbl, "'", "''")+"'", tbl)
	}
	if q.Len() > 0 {
		f.Tables = e.MustPsql(t, db, q.String())
	}
	f.Sequences = e.MustPsql(t, db, `SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2;`)
	f.LargeObjects = e.MustPsql(t, db, `SELECT oid, md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid;`)
	return f
}

// pgAppData fills a database with what an app's database holds: several
// schemas (one with a non-ASCII name), tables with identity and serial
// keys, indexes (unique, expression, partial), a foreign key, a view, a
// function and a trigger, sequences moved away from their start, large
// objects, binary data, JSON and text in several scripts. It runs as the
// database's owner, the app's user.
const pgAppData = `
CREATE SCHEMA app;
CREATE SCHEMA "Übung";
CREATE TABLE public.users (
	id bigserial PRIMARY KEY,
	name text NOT NULL,
	email text UNIQUE,
	created timestamptz NOT NULL DEFAULT '2025-01-01 00:00:00+00',
	profile jsonb,
	avatar bytea
);
CREATE INDEX users_lower_name ON public.users (lower(name));
CREATE TABLE app.events (
	id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES public.users (id),
	kind text NOT NULL,
	payload text,
	at timestamp NOT NULL
);
CREATE INDEX events_user ON app.events (user_id, at);
CREATE INDEX events_errors ON app.events (at) WHERE kind = 'error';
CREATE TABLE "Übung"."Grüße" ("Schlüssel" text PRIMARY KEY, "Wert" text NOT NULL);
CREATE TABLE app.files (name text PRIMARY KEY, content oid NOT NULL);
CREATE SEQUENCE app.ticket START 1000 INCREMENT 7;
CREATE VIEW app.active_users AS SELECT u.id, u.name FROM public.users u WHERE EXISTS (SELECT 1 FROM app.events e WHERE e.user_id = u.id);
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.payload := coalesce(NEW.payload, 'touched'); RETURN NEW; END $$;
CREATE TRIGGER events_touch BEFORE INSERT ON app.events FOR EACH ROW EXECUTE FUNCTION app.touch();
INSERT INTO public.users (name, email, profile, avatar)
SELECT 'Benutzer ' || i || ' Grüße ñ 日本語 🙂', 'user' || i || '@example.org',
	jsonb_build_object('i', i, 'tags', jsonb_build_array('ä', 'ö', 'ü'), 'note', repeat('x', i % 50)),
	decode(md5(i::text) || md5((i * 7)::text), 'hex')
FROM generate_series(1, 3000) i;
INSERT INTO app.events (user_id, kind, payload, at)
SELECT 1 + i % 3000, (ARRAY['login', 'error', 'upload'])[1 + i % 3], CASE WHEN i % 5 = 0 THEN NULL ELSE 'Ereignis ' || i || E' \t\\ "quoted" \n' END,
	'2025-01-01'::timestamp + i * interval '37 seconds'
FROM generate_series(1, 12000) i;
INSERT INTO "Übung"."Grüße" SELECT 'Schlüssel ' || i, repeat('Ä', i) FROM generate_series(1, 200) i;
INSERT INTO app.files SELECT 'file-' || i, lo_from_bytea(0, convert_to(repeat('Inhalt ' || i || ' ✓ ', 2000), 'UTF8')) FROM generate_series(1, 5) i;
SELECT nextval('app.ticket') FROM generate_series(1, 11);
`

// TestPostgresRoundTrip backs up two apps' databases with the generated
// pg_dump steps, destroys them in two ways, restores them with the
// generated restore Jobs' scripts and compares everything: schema, rows
// (ordered checksums per table), sequences, large objects, and the
// database's collation. Synapse's database is dropped and recreated with
// the SQL of the generated runbook (C collation, template0), Nextcloud's is
// damaged in place; a second backup proves that a chosen snapshot ID
// restores that night, and that a snapshot of another store is refused.
func TestPostgresRoundTrip(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	matrix, nextcloud := Unique("matrix_"), Unique("nextcloud_")
	s := e.BuildSite(t, SiteSpec{
		Apps: []string{"element", "nextcloud"},
		Policy: fmt.Sprintf(`stores: {
	"element/postgresql/matrix": connection: database: %q
	"nextcloud/postgresql/nextcloud": connection: database: %q
}
`, matrix, nextcloud),
	})
	stores := []struct {
		id, db, user, create string
		backup, restore      *Container
		password             string
	}{
		{id: "element/postgresql/matrix", db: matrix, user: "matrix_user",
			create: "ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"},
		{id: "nextcloud/postgresql/nextcloud", db: nextcloud, user: "nextcloud_user"},
	}
	for i := range stores {
		st := &stores[i]
		st.backup, st.restore = s.Backup(t, st.id), s.Restore(t, st.id, "pg_dump")
		st.password = e.EnsurePGRole(t, st.user)
		s.Secrets[st.backup.SecretRef(t, "PGPASSWORD")] = st.password
		if got := st.backup.EnvValue(t, "PGDATABASE"); got != st.db {
			t.Fatalf("%s: PGDATABASE %q, want %q", st.id, got, st.db)
		}
		e.MustPsql(t, "", fmt.Sprintf(`CREATE DATABASE %q OWNER %q %s;`, st.db, st.user, st.create))
		t.Cleanup(func() { e.Psql(t, "", fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE);`, st.db)) })
		e.PsqlAs(t, st.db, st.user, st.password, pgAppData)
	}
	repo := s.RepoEnv(t)

	// Night 1.
	before := map[string]PGFingerprint{}
	for _, st := range stores {
		before[st.id] = e.Fingerprint(t, st.db)
		st.backup.MustRun(t, nil)
	}
	if got := e.Fingerprint(t, matrix).Database; !strings.HasPrefix(got, "UTF8|C|C|matrix_user") {
		t.Fatalf("matrix database: %q, want UTF8 with C collation", got)
	}
	night1 := map[string]Snapshot{}
	for _, st := range stores {
		snaps := e.Snapshots(t, repo, "--tag", "store="+st.id)
		if len(snaps) != 1 {
			t.Fatalf("%s: %d snapshots after one backup, want 1: %+v", st.id, len(snaps), snaps)
		}
		sn := snaps[0]
		if sn.Hostname != s.Name || !strings.Contains(strings.Join(sn.Paths, ","), st.db+".pgdump") {
			t.Errorf("%s: snapshot host %q paths %v, want host %q and %s.pgdump", st.id, sn.Hostname, sn.Paths, s.Name, st.db)
		}
		night1[st.id] = sn
	}

	// Night 2: Nextcloud's data changes and is backed up again.
	nc := stores[1]
	e.PsqlAs(t, nextcloud, nc.user, nc.password, `
UPDATE public.users SET name = name || ' (2)' WHERE id % 10 = 0;
INSERT INTO app.events (user_id, kind, at) VALUES (1, 'night2', '2025-06-01');
SELECT nextval('app.ticket');
INSERT INTO app.files VALUES ('night2', lo_from_bytea(0, '\x00ff00ff'));`)
	night2 := e.Fingerprint(t, nextcloud)
	nc.backup.MustRun(t, nil)

	// Disaster: Synapse's database is gone; Nextcloud's is damaged.
	e.MustPsql(t, "", fmt.Sprintf(`DROP DATABASE %q WITH (FORCE);`, matrix))
	stray := strings.TrimSpace(e.PsqlAs(t, nextcloud, nc.user, nc.password, `
DELETE FROM app.events WHERE id % 3 = 0;
UPDATE public.users SET email = NULL, avatar = '\xdeadbeef' WHERE id < 100;
DROP TABLE "Übung"."Grüße";
SELECT setval('app.ticket', 1) \g /dev/null
SELECT lo_unlink(content) FROM app.files WHERE name = 'file-1' \g /dev/null
DELETE FROM app.files WHERE name = 'file-1';
SELECT lo_from_bytea(0, 'stray');`))

	// Synapse: recreate the database as the runbook says, then restore.
	sql := runbookCode(t, string(s.File(t, "runbooks/element.md")), "sql", "DROP DATABASE IF EXISTS "+matrix)
	if !strings.Contains(sql, "LC_COLLATE 'C'") || !strings.Contains(sql, "OWNER matrix_user") {
		t.Errorf("the runbook's SQL does not recreate %s as openDesk creates it:\n%s", matrix, sql)
	}
	e.MustPsql(t, "", sql)
	r := stores[0].restore.MustRun(t, nil)
	if !strings.Contains(r.Stdout, night1[stores[0].id].ShortID) {
		t.Errorf("the restore log does not name the snapshot it restores (%s):\n%s", night1[stores[0].id].ShortID, r)
	}
	if d := before[stores[0].id].diff(e.Fingerprint(t, matrix)); d != "" {
		t.Errorf("%s after the restore of its dropped database:\n%s", matrix, d)
	}

	// Nextcloud, in place: latest is night 2. Everything in the dump comes
	// back; what the dump does not hold stays, as the runbook says (here a
	// large object created after the backup).
	nc.restore.MustRun(t, nil)
	got := e.Fingerprint(t, nextcloud)
	want := night2
	want.LargeObjects += fmt.Sprintf("%s|%s\n", stray, md5hex("stray"))
	if d := want.diff(got); d != "" {
		t.Errorf("%s after restoring latest in place:\n%s", nextcloud, d)
	}
	// Night 1 by its snapshot ID, into the database recreated as the
	// runbook says for a rollback.
	e.MustPsql(t, "", runbookCode(t, string(s.File(t, "runbooks/nextcloud.md")), "sql", "DROP DATABASE IF EXISTS "+nextcloud))
	nc.restore.MustRun(t, map[string]string{"ODBACKUP_SNAPSHOT": night1[nc.id].ID})
	if d := before[nc.id].diff(e.Fingerprint(t, nextcloud)); d != "" {
		t.Errorf("%s after restoring night 1 by ID:\n%s", nextcloud, d)
	}
	// "list" restores nothing; another store's snapshot is refused.
	r = nc.restore.MustRun(t, map[string]string{"ODBACKUP_SNAPSHOT": "list"})
	if !strings.Contains(r.Stdout, night1[nc.id].ShortID) {
		t.Errorf("list does not show night 1's snapshot:\n%s", r)
	}
	foreign := night1[stores[0].id].ID
	if r := nc.restore.Run(t, map[string]string{"ODBACKUP_SNAPSHOT": foreign}); r.OK() || !strings.Contains(r.Stderr, "is not a snapshot of "+nc.id) {
		t.Errorf("restoring Synapse's snapshot into Nextcloud's database was not refused:\n%s", r)
	}
	if d := before[nc.id].diff(e.Fingerprint(t, nextcloud)); d != "" {
		t.Errorf("%s changed by list or a refused restore:\n%s", nextcloud, d)
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestPostgresParallelRestore (issue 19 item 2): a store with
// restoreScratch restores from a dump staged in its scratch folder (a
// directory of the test stands in for the ephemeral volume) with
// pg_restore --jobs: a database damaged in place comes back exactly. A
// restic dump cut short with exit 0, and one that fails half-way, each
// fail the restore before pg_restore starts: the database stays as it
// was, and the scratch folder is left empty.
func TestPostgresParallelRestore(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	db := Unique("xwiki_")
	s := e.BuildSite(t, SiteSpec{
		Apps: []string{"xwiki"},
		Policy: fmt.Sprintf(`stores: "xwiki/postgresql/xwiki": {
	connection: database: %q
	restoreScratch: {size: "1Gi", jobs: 2}
}
`, db),
	})
	const id, user = "xwiki/postgresql/xwiki", "xwiki_user"
	backup, restore := s.Backup(t, id), s.Restore(t, id, "pg_dump")
	password := e.EnsurePGRole(t, user)
	s.Secrets[backup.SecretRef(t, "PGPASSWORD")] = password
	e.MustPsql(t, "", fmt.Sprintf(`CREATE DATABASE %q OWNER %q;`, db, user))
	t.Cleanup(func() { e.Psql(t, "", fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE);`, db)) })
	e.PsqlAs(t, db, user, password, pgAppData)
	before := e.Fingerprint(t, db)
	backup.MustRun(t, nil)
	snaps := e.Snapshots(t, s.RepoEnv(t), "--tag", "store="+id)
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots after one backup, want 1", len(snaps))
	}

	// Damage in place, then restore latest.
	e.PsqlAs(t, db, user, password, `
DELETE FROM app.events WHERE id % 3 = 0;
UPDATE public.users SET email = NULL, avatar = '\xdeadbeef' WHERE id < 100;
DROP TABLE "Übung"."Grüße";
SELECT setval('app.ticket', 1) \g /dev/null`)
	scratch := t.TempDir()
	r := restore.MustRun(t, map[string]string{"ODBACKUP_SNAPSHOT": "latest", "ODBACKUP_SCRATCH": scratch})
	if !strings.Contains(r.Stdout, "pg_restore --jobs=2") || !strings.Contains(r.Stdout, "snapshot "+snaps[0].ID) {
		t.Errorf("the log does not say it restores snapshot %s with pg_restore --jobs=2:\n%s", snaps[0].ID, r)
	}
	if d := before.diff(e.Fingerprint(t, db)); d != "" {
		t.Errorf("%s after the parallel restore:\n%s", db, d)
	}
	assertEmptyDir(t, scratch)

	// A restic that cuts the dump short (exit 0), or fails half-way:
	// nothing is restored.
	e.PsqlAs(t, db, user, password, `DELETE FROM app.events WHERE id % 3 = 0; DROP TABLE "Übung"."Grüße";`)
	damaged := e.Fingerprint(t, db)
	realRestic, err := exec.LookPath("restic")
	if err != nil {
		t.Fatal(err)
	}
	shim := t.TempDir()
	// The shim passes every call to restic; a dump it cuts to its first
	// 64 KiB, then exits with $SHIM_EXIT.
	if err := os.WriteFile(filepath.Join(shim, "restic"), []byte(`#!/bin/sh
if [ "$1" = dump ]; then
	"$REAL_RESTIC" "$@" | head -c 65536
	exit "$SHIM_EXIT"
fi
exec "$REAL_RESTIC" "$@"
`), 0o755); err != nil {
		t.Fatal(err)
	}
	for exit, says := range map[string]string{"0": "is cut short", "1": "restic dump of " + db + ".pgdump from snapshot "} {
		env := restore.Env(t, nil)
		r := restore.Run(t, map[string]string{"ODBACKUP_SNAPSHOT": "latest", "ODBACKUP_SCRATCH": scratch,
			"PATH": shim + ":" + env["PATH"], "REAL_RESTIC": realRestic, "SHIM_EXIT": exit})
		if r.OK() || !strings.Contains(r.Stderr, says) || !strings.Contains(r.Stderr, "nothing was restored") {
			t.Errorf("a dump cut short (restic exit %s) did not fail the restore saying %q and nothing was restored:\n%s", exit, says, r)
		}
		if strings.Contains(r.Stdout, "pg_restore --jobs") {
			t.Errorf("pg_restore started on a dump cut short (restic exit %s):\n%s", exit, r)
		}
		if d := damaged.diff(e.Fingerprint(t, db)); d != "" {
			t.Errorf("a failed staging (restic exit %s) changed the database:\n%s", exit, d)
		}
		assertEmptyDir(t, scratch)
	}
}

// assertEmptyDir fails the test when dir holds anything.
func assertEmptyDir(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s is left in the scratch folder", e.Name())
	}
}
