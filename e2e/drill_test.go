package e2e

// The restore drills' scripts, run as generated against real servers and
// tools: a good backup passes; the dump of an emptied database, a dump
// cut short, an LDIF cut short, a Nextcloud database without users and a
// truncated RDB fail, each with
// the one line that says why.
//
// What this proves: the scripts' restic calls find the newest snapshot of
// their store; the PostgreSQL drill starts its own throwaway server with
// the host's initdb and pg_ctl (PostgreSQL 15, as the postgres user, the
// way the drill's container runs as the image's postgres user), restores
// into it with pg_restore and runs the catalog's sanity check there;
// the LDIF drill compares with the count the backup recorded; the Redis
// drill runs the real redis-check-rdb. What it cannot prove: that the
// images run the scripts the same way (the official postgres image's
// initdb as uid 999 with a read-only root filesystem, busybox in the
// busybox image), and the MariaDB drill, whose throwaway mariadbd is not
// exercised here.

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/internal/scripttest"
)

// Drill returns the restore drill step of storeID.
func (s *Site) Drill(t testing.TB, storeID string) *Container {
	t.Helper()
	var found []*Container
	for p, cj := range s.CronJobs(t) {
		if cj.Labels["odbackup.io/drill"] != "true" {
			continue
		}
		for _, c := range containers(p, cj.Spec.JobTemplate.Spec.Template.Spec, s) {
			if !strings.HasPrefix(c.Name, "copy-") && scripttest.IsDrill(c.Script()) && scripttest.StoreOf(c.Script()) == storeID {
				found = append(found, c)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one drill step of %s in the generated CronJobs, found %d", storeID, len(found))
	}
	return found[0]
}

// SeedSnapshot stores content as file in a snapshot of storeID with the
// tags a backup gives it, as the site's backups would have.
func (s *Site) SeedSnapshot(t testing.TB, storeID, file string, content []byte, extraTags ...string) {
	t.Helper()
	app := strings.Split(storeID, "/")[0]
	args := []string{"restic", "backup", "--host=" + s.Name, "--tag=odbackup", "--tag=app=" + app, "--tag=store=" + storeID}
	for _, tag := range extraTags {
		args = append(args, "--tag="+tag)
	}
	args = append(args, "--stdin", "--stdin-filename="+file)
	must(t, "restic backup of a seeded "+file, Run(t, Cmd{Args: args, Env: s.RepoEnv(t), Stdin: strings.NewReader(string(content))}))
}

// drillFailed checks that a drill failed and that its last line says
// why, with want in it.
func drillFailed(t testing.TB, r Result, storeID, want string) {
	t.Helper()
	if r.OK() {
		t.Fatalf("the drill passed, want it to fail with %q:\n%s", want, r)
	}
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "odbackup drill FAILED: "+storeID+": ") || !strings.Contains(last, want) {
		t.Fatalf("the drill's last line is %q, want a failure of %s with %q:\n%s", last, storeID, want, r)
	}
}

// drillAsPostgres runs a drill step as the postgres user (initdb refuses
// root; the Pod runs it as the image's postgres user) in a scratch folder
// that user owns, with the host's PostgreSQL binaries first on PATH.
func (e *Env) drillAsPostgres(t testing.TB, c *Container) Result {
	t.Helper()
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp(e.Dir, "drill-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"", "bin", "home", "tmp", "cache", "scratch"} {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	// The pinned restic lives under root's cache, which postgres cannot
	// read: the drill gets a copy, as the Pod gets one in /tools.
	restic, err := os.ReadFile(e.Restic)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "restic"), restic, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := c.Cmd(t, map[string]string{
		"PATH":             filepath.Join(dir, "bin") + ":" + e.PG.Bin + ":" + e.toolPath(t, false),
		"HOME":             filepath.Join(dir, "home"),
		"TMPDIR":           filepath.Join(dir, "tmp"),
		"RESTIC_CACHE_DIR": filepath.Join(dir, "cache"),
		"ODBACKUP_SCRATCH": filepath.Join(dir, "scratch"),
	})
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Args = append([]string{runuser, "--preserve-environment", "-u", "postgres", "--"}, cmd.Args...)
	return Run(t, cmd)
}

// scratch gives a drill a scratch folder of its own (the Pods' /tmp is
// theirs alone; the host's is shared by parallel tests).
func scratch(t testing.TB) map[string]string {
	return map[string]string{"ODBACKUP_SCRATCH": t.TempDir()}
}

// TestDrillPostgres: the Nextcloud drill passes on a good backup and
// fails on a Nextcloud database without users (the catalog's sanity
// check), on the dump of an emptied database (no tables) and on a dump
// cut in half.
func TestDrillPostgres(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	const store = "nextcloud/postgresql/nextcloud"
	db := Unique("nextcloud_")
	s := e.BuildSite(t, SiteSpec{
		Apps:   []string{"nextcloud"},
		Policy: fmt.Sprintf("stores: %q: connection: database: %q\n", store, db),
	})
	backup, drill := s.Backup(t, store), s.Drill(t, store)
	password := e.EnsurePGRole(t, "nextcloud_user")
	s.Secrets[backup.SecretRef(t, "PGPASSWORD")] = password
	e.MustPsql(t, "", fmt.Sprintf(`CREATE DATABASE %q OWNER nextcloud_user;`, db))
	t.Cleanup(func() { e.Psql(t, "", fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE);`, db)) })
	e.PsqlAs(t, db, "nextcloud_user", password, `CREATE TABLE oc_users (uid varchar(64) PRIMARY KEY, displayname varchar(64));
INSERT INTO oc_users VALUES ('anna', 'Anna Müller'), ('bernd', 'Bernd');
CREATE TABLE oc_filecache (fileid bigserial PRIMARY KEY, path text);`)

	backup.MustRun(t, nil)
	if r := e.drillAsPostgres(t, drill); !r.OK() || !strings.Contains(r.Stdout, "odbackup drill passed: "+store) {
		t.Fatalf("the drill of a good backup did not pass:\n%s", r)
	}
	good := e.MustRestic(t, s.RepoEnv(t), "dump", "--tag", "store="+store, "latest", "/"+db+".pgdump")

	// A Nextcloud database without users: the dump restores, the sanity
	// check cannot hold.
	e.PsqlAs(t, db, "nextcloud_user", password, `DELETE FROM oc_users;`)
	waitNextSecond()
	backup.MustRun(t, nil)
	drillFailed(t, e.drillAsPostgres(t, drill), store, "the sanity check SELECT EXISTS (SELECT 1 FROM oc_users) does not hold")

	// An emptied database: its dump restores, without tables.
	e.PsqlAs(t, db, "nextcloud_user", password, `DROP TABLE oc_users; DROP TABLE oc_filecache;`)
	waitNextSecond()
	backup.MustRun(t, nil)
	drillFailed(t, e.drillAsPostgres(t, drill), store, "the restored database has no tables")

	// A dump cut in half is the newest snapshot (restic stores no empty
	// stdin file: a backup whose dump printed nothing leaves no dump).
	waitNextSecond()
	s.SeedSnapshot(t, store, db+".pgdump", []byte(good[:len(good)/2]))
	drillFailed(t, e.drillAsPostgres(t, drill), store, "pg_restore of the newest dump failed")
}

// TestDrillLDIF: the LDIF backup records its entry count; the drill passes
// on it and fails on the same LDIF cut short.
func TestDrillLDIF(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	const store = "nubus/pvc/shared-data-ums-ldap-server-primary-0"
	s := e.BuildSite(t, SiteSpec{Apps: []string{"nubus"}, Policy: `stores: {
	"nubus/postgresql/selfservice": backup: false
	"nubus/postgresql/nubus_authsession": backup: false
}
`})
	drill := s.Drill(t, store)
	ldif := MustRun(t, Cmd{Args: []string{"slapcat", "-f", e.LDAP.Conf, "-b", e.LDAP.Base}})
	entries := strings.Count(ldif, "\ndn: ")
	if strings.HasPrefix(ldif, "dn: ") {
		entries++
	}
	complete := fmt.Sprintf("%s# odbackup: entries %d\n", ldif, entries)
	s.SeedSnapshot(t, store, "ldap-primary.ldif", []byte(complete), "export=ldap-primary.ldif")
	if r := drill.Run(t, scratch(t)); !r.OK() || !strings.Contains(r.Stdout, "odbackup drill passed: "+store) {
		t.Fatalf("the drill of a complete LDIF did not pass:\n%s", r)
	}
	waitNextSecond()
	s.SeedSnapshot(t, store, "ldap-primary.ldif", []byte(complete[:len(complete)*2/3]), "export=ldap-primary.ldif")
	drillFailed(t, drill.Run(t, scratch(t)), store, "does not end with the entry count its backup recorded")
}

// TestDrillRedis: an RDB the server wrote passes redis-check-rdb in the
// drill; the same file truncated fails it.
func TestDrillRedis(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	const store = "ox-appsuite/redis/cache"
	s := e.BuildSite(t, SiteSpec{Apps: []string{"ox-appsuite"}, Policy: fmt.Sprintf("stores: %q: backup: true\n", store)})
	drill := s.Drill(t, store)
	rdb := filepath.Join(t.TempDir(), "dump.rdb")
	r := Run(t, Cmd{Args: []string{"redis-cli", "-h", e.Redis.Host, "-p", e.Redis.Port, "--no-auth-warning", "--rdb", rdb}, Env: e.RedisEnv()})
	must(t, "redis-cli --rdb", r)
	data, err := os.ReadFile(rdb)
	if err != nil {
		t.Fatal(err)
	}
	s.SeedSnapshot(t, store, "dump.rdb", data)
	if r := drill.Run(t, scratch(t)); !r.OK() || !strings.Contains(r.Stdout, "odbackup drill passed: "+store) {
		t.Fatalf("the drill of a good RDB did not pass:\n%s", r)
	}
	waitNextSecond()
	s.SeedSnapshot(t, store, "dump.rdb", data[:len(data)/2])
	drillFailed(t, drill.Run(t, scratch(t)), store, "redis-check-rdb rejects the newest dump.rdb")
}
