package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// mariadbAppData is a database as OX App Suite's hold them: InnoDB tables
// in utf8mb4 with auto-increment keys moved away from their start, indexes,
// a foreign key, binary data, a view, a stored procedure and function, a
// trigger and an event.
const mariadbAppData = `
CREATE TABLE ctx (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, name VARCHAR(190) NOT NULL UNIQUE, filestore BLOB, created DATETIME(3) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 AUTO_INCREMENT=500;
CREATE TABLE usr (cid INT UNSIGNED NOT NULL, id INT UNSIGNED NOT NULL, mail VARCHAR(255), display TEXT, quota BIGINT, PRIMARY KEY (cid, id), KEY mail (mail), CONSTRAINT usr_ctx FOREIGN KEY (cid) REFERENCES ctx (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE VIEW big_quota AS SELECT cid, id FROM usr WHERE quota > 1000;
CREATE FUNCTION greet(n TEXT) RETURNS TEXT DETERMINISTIC RETURN CONCAT('Grüße, ', n);
CREATE PROCEDURE bump(IN c INT) UPDATE usr SET quota = quota + 1 WHERE cid = c;
CREATE TRIGGER usr_quota BEFORE INSERT ON usr FOR EACH ROW SET NEW.quota = COALESCE(NEW.quota, 42);
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 03:00:00' DISABLE DO DELETE FROM usr WHERE quota < 0;
INSERT INTO ctx (name, filestore, created) SELECT CONCAT('Kontext ', seq, ' – 日本語 🙂'), UNHEX(SHA2(seq, 256)), '2025-01-01 00:00:00' + INTERVAL seq MINUTE FROM seq_1_to_300;
INSERT INTO usr (cid, id, mail, display, quota) SELECT 500 + seq % 300, seq, CONCAT('user', seq, '@example.org'), CONCAT('Jürgen ', seq, ' ''quoted'' \\ back'), IF(seq % 4 = 0, NULL, seq * 3) FROM seq_1_to_4000;
`

// MariaDBFingerprint is a database's schema (tables with their
// AUTO_INCREMENT, views, routines, triggers, events) and, per table, its row
// count and an ordered checksum of its rows.
func (e *Env) MariaDBFingerprint(t testing.TB, db string) string {
	t.Helper()
	schema := MustRun(t, Cmd{
		Args: append(append([]string{"mariadb-dump"}, e.MariaDBArgs()...),
			"--no-data", "--routines", "--events", "--triggers", "--skip-dump-date", "--skip-comments", "--databases", db),
		Env: e.MariaDBEnv(),
	})
	cols := e.MustMariaDB(t, "", fmt.Sprintf(`SELECT c.TABLE_NAME, GROUP_CONCAT(CONCAT('QUOTE(`+"`"+`', c.COLUMN_NAME, '`+"`"+`)') ORDER BY c.ORDINAL_POSITION SEPARATOR ', ')
FROM information_schema.COLUMNS c JOIN information_schema.TABLES t USING (TABLE_SCHEMA, TABLE_NAME)
WHERE c.TABLE_SCHEMA = '%s' AND t.TABLE_TYPE = 'BASE TABLE' GROUP BY c.TABLE_NAME ORDER BY c.TABLE_NAME;`, db))
	var q strings.Builder
	q.WriteString("SET SESSION group_concat_max_len = 1073741824;\n")
	for _, line := range strings.Split(strings.TrimSpace(cols), "\n") {
		if line == "" {
			continue
		}
		name, list, _ := strings.Cut(line, "\t")
		row := "CONCAT_WS(0x1f, " + list + ")"
		fmt.Fprintf(&q, "SELECT '%s', COUNT(*), MD5(GROUP_CONCAT(%s ORDER BY %s SEPARATOR 0x1e)) FROM `%s`;\n", name, row, row, name)
	}
	return schema + "\n" + e.MustMariaDB(t, db, q.String())
}

// TestMariaDBRoundTrip backs up OX App Suite's databases with the generated
// mariadb-dump steps: configdb, and the wildcard stores PRIMARYDB_* and
// oxguard*, whose databases are created here at run time. The wildcards
// must find exactly those (PRIMARYDBX and PRIMARYDB are not context
// databases); each database is its own snapshot. Then one database is
// dropped and the others damaged, and the generated restore Jobs' scripts
// bring every database back to the backup, compared table by table.
func TestMariaDBRoundTrip(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	all := []string{"configdb", "PRIMARYDB_5", "PRIMARYDB_17", "oxguard", "oxguard_7", "PRIMARYDBX", "PRIMARYDB", "oxguar"}
	dropAll := func() {
		var b strings.Builder
		for _, db := range all {
			fmt.Fprintf(&b, "DROP DATABASE IF EXISTS `%s`;\n", db)
		}
		e.MustMariaDB(t, "", b.String())
	}
	// The catalog's names are fixed; no other test uses them.
	dropAll()
	t.Cleanup(dropAll)
	for _, db := range all {
		e.MustMariaDB(t, "", fmt.Sprintf("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;", db))
		e.MustMariaDB(t, db, mariadbAppData)
	}
	// Each database differs, so a restore into the wrong one shows.
	for i, db := range all {
		e.MustMariaDB(t, db, fmt.Sprintf("INSERT INTO ctx (name, created) VALUES ('%s', '2025-02-0%d');", db, 1+i%9))
	}

	s := e.BuildSite(t, SiteSpec{
		Apps:   []string{"ox-appsuite"},
		Policy: `stores: "ox-appsuite/redis/cache": backup: false` + "\n",
	})
	stores := map[string][]string{
		"ox-appsuite/mariadb/configdb":    {"configdb"},
		"ox-appsuite/mariadb/PRIMARYDB_*": {"PRIMARYDB_17", "PRIMARYDB_5"},
		"ox-appsuite/mariadb/oxguard*":    {"oxguard", "oxguard_7"},
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range stores {
			if !yield(id) {
				return
			}
		}
	})
	before := map[string]string{}
	for _, db := range all {
		before[db] = e.MariaDBFingerprint(t, db)
	}
	for _, want := range []string{"ctx\t301\t", "usr\t4000\t", "ENGINE=InnoDB AUTO_INCREMENT=", "CREATE DEFINER", "PROCEDURE `bump`", "FUNCTION `greet`", "TRIGGER usr_quota", "EVENT `nightly`", "VIEW `big_quota`"} {
		if !strings.Contains(before["PRIMARYDB_5"], want) {
			t.Fatalf("the fingerprint of PRIMARYDB_5 lacks %q:\n%s", want, before["PRIMARYDB_5"])
		}
	}
	repo := s.RepoEnv(t)
	for _, id := range ids {
		c := s.Backup(t, id)
		s.Secrets[c.SecretRef(t, "MYSQL_PWD")] = e.MariaDB.Password
		c.MustRun(t, nil)
		var got []string
		for _, sn := range e.Snapshots(t, repo, "--tag", "store="+id) {
			for _, tag := range sn.Tags {
				if db, ok := strings.CutPrefix(tag, "database="); ok {
					got = append(got, db)
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, stores[id]) {
			t.Errorf("%s: snapshots of databases %q, want %q", id, got, stores[id])
		}
	}

	// Disaster: a context database is gone, the others damaged, and the
	// databases nobody backed up change too.
	e.MustMariaDB(t, "", "DROP DATABASE `PRIMARYDB_17`;")
	for _, db := range []string{"configdb", "PRIMARYDB_5", "oxguard", "oxguard_7", "PRIMARYDBX"} {
		e.MustMariaDB(t, db, `SET FOREIGN_KEY_CHECKS = 0;
DELETE FROM usr WHERE id % 3 = 0;
UPDATE ctx SET name = CONCAT(name, ' (damaged)'), filestore = NULL WHERE id % 2 = 0;
DROP PROCEDURE bump;
DROP VIEW big_quota;
INSERT INTO ctx (name, created) VALUES ('after the backup', NOW());
ALTER TABLE ctx AUTO_INCREMENT = 100000;`)
	}
	afterDamage := e.MariaDBFingerprint(t, "PRIMARYDBX")

	for _, id := range ids {
		r := s.Restore(t, id, "mariadb-dump").MustRun(t, nil)
		for _, db := range stores[id] {
			if !strings.Contains(r.Stdout, "restoring database "+db+" ") {
				t.Errorf("%s: the restore log does not mention database %s:\n%s", id, db, r)
			}
		}
	}
	for _, id := range ids {
		for _, db := range stores[id] {
			if got := e.MariaDBFingerprint(t, db); got != before[db] {
				t.Errorf("database %s after the restore:\n%s", db, lineDiff(before[db], got))
			}
		}
	}
	if got := e.MariaDBFingerprint(t, "PRIMARYDBX"); got != afterDamage {
		t.Errorf("PRIMARYDBX, never backed up, was changed by a restore:\n%s", lineDiff(afterDamage, got))
	}
}
