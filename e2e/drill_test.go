package e2e

// The restore drills' scripts, run as generated against real servers and
// tools: a good backup passes; the dump of an emptied database, a dump
// cut short, a database whose sanity check cannot hold (Nextcloud without
// users, a shop without customers), an LDIF cut short, an LDIF whose
// entries do not load and a truncated RDB fail, each with the one line
// that says why. The bucket mirror's drill is in s3_test.go
// (TestDrillS3Mirror).
//
// What this proves: the scripts' restic calls find the newest snapshot of
// their store; the PostgreSQL drill starts its own throwaway server with
// the host's initdb and pg_ctl (PostgreSQL 15, as the postgres user, the
// way the drill's container runs as the image's postgres user), restores
// into it with pg_restore and runs the catalog's sanity check there; the
// MariaDB drill does the same with the host's mariadb-install-db and
// mariadbd (MariaDB 10.11, as the mysql user); the LDIF drill loads the
// LDIF the export step wrote, with the schema and modules it recorded,
// with the host's slapadd (OpenLDAP 2.5) into a scratch database; the
// Redis drill runs the real redis-check-rdb. What it cannot prove: that
// the images run the scripts the same way (the official postgres and
// mariadb images as uid 999 with a read-only root filesystem, busybox in
// the busybox image, slapadd in openDesk's Nubus LDAP image with its UCS
// schema and modules).

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

// Drill returns the restore drill step of storeID's own backup (a dump,
// an export, a mirror); OffsiteDrill the one of its volume's off-site
// copy. A volume with an LDIF export and an off-site copy has both.
func (s *Site) Drill(t testing.TB, storeID string) *Container {
	t.Helper()
	return s.drill(t, storeID, false)
}

// OffsiteDrill returns the restore drill step of storeID's off-site copy.
func (s *Site) OffsiteDrill(t testing.TB, storeID string) *Container {
	t.Helper()
	return s.drill(t, storeID, true)
}

func (s *Site) drill(t testing.TB, storeID string, offsite bool) *Container {
	t.Helper()
	var found []*Container
	for p, cj := range s.CronJobs(t) {
		if cj.Labels["odbackup.io/drill"] != "true" {
			continue
		}
		for _, c := range containers(p, cj.Spec.JobTemplate.Spec.Template.Spec, s) {
			if !strings.HasPrefix(c.Name, "copy-") && strings.HasPrefix(c.Name, "offsite-") == offsite &&
				scripttest.IsDrill(c.Script()) && scripttest.StoreOf(c.Script()) == storeID {
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
// root; the Pod runs it as the image's postgres user), with the host's
// PostgreSQL binaries first on PATH.
func (e *Env) drillAsPostgres(t testing.TB, c *Container) Result {
	t.Helper()
	return e.drillAs(t, c, "postgres", e.PG.Bin)
}

// drillAs runs a drill step as the host's user name (as the Pod runs it
// as the image's own user) in a scratch folder that user owns, with bin
// (if not "") first on PATH.
func (e *Env) drillAs(t testing.TB, c *Container, name, bin string) Result {
	t.Helper()
	u, err := user.Lookup(name)
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
	// The pinned restic lives under root's cache, which the user cannot
	// read: the drill gets a copy, as the Pod gets one in /tools.
	restic, err := os.ReadFile(e.Restic)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "restic"), restic, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bin") + ":" + e.toolPath(t, false)
	if bin != "" {
		path = filepath.Join(dir, "bin") + ":" + bin + ":" + e.toolPath(t, false)
	}
	cmd := c.Cmd(t, map[string]string{
		"PATH":             path,
		"HOME":             filepath.Join(dir, "home"),
		"TMPDIR":           filepath.Join(dir, "tmp"),
		"RESTIC_CACHE_DIR": filepath.Join(dir, "cache"),
		"ODBACKUP_SCRATCH": filepath.Join(dir, "scratch"),
	})
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Args = append([]string{runuser, "--preserve-environment", "-u", name, "--"}, cmd.Args...)
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

// TestDrillMariaDB: the drill of a MariaDB store (an extra app's, whose
// catalog entry has a sanity check; openDesk's MariaDB stores have none)
// starts its own mariadbd from the host's mariadb-install-db as the mysql
// user, as the Pod runs it as the image's, and passes on a good backup; it
// fails on a database whose sanity check cannot hold (no customers), on
// the dump of an emptied database (no tables) and on a dump cut in half.
func TestDrillMariaDB(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	db := Unique("shop_")
	store := "shop/mariadb/" + db
	// No catalog app is deployed; the extra app is.
	s := e.BuildSite(t, SiteSpec{Apps: []string{}, Policy: fmt.Sprintf(`extraApps: shop: {
	name: "Shop"
	tier: "apps"
	workloads: [{kind: "Deployment", name: "shop", confidence: "confirmed", source: "the e2e test"}]
	stores: "mariadb/%[1]s": {
		backup:     "required"
		identifier: %[1]q
		content:    "orders and customers"
		connection: {database: %[1]q, user: %[2]q, passwordSecret: {name: "shop-db", key: "password"}}
		drill: {
			check: "SELECT EXISTS (SELECT 1 FROM customers)"
			shows: "a shop without customers is not a usable backup (the e2e test's own rule)"
		}
	}
}
`, db, e.MariaDB.User)})
	backup, drill := s.Backup(t, store), s.Drill(t, store)
	s.Secrets[backup.SecretRef(t, "MYSQL_PWD")] = e.MariaDB.Password
	e.MustMariaDB(t, "", fmt.Sprintf("CREATE DATABASE `%s` CHARACTER SET utf8mb4;", db))
	t.Cleanup(func() { e.MariaDBCmd(t, "", fmt.Sprintf("DROP DATABASE IF EXISTS `%s`;", db)) })
	e.MustMariaDB(t, db, `CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(64)) ENGINE=InnoDB;
INSERT INTO customers VALUES (1, 'Anna Müller'), (2, 'Bernd');
CREATE TABLE orders (id INT PRIMARY KEY, customer INT, FOREIGN KEY (customer) REFERENCES customers (id)) ENGINE=InnoDB;`)

	backup.MustRun(t, nil)
	if r := e.drillAs(t, drill, "mysql", ""); !r.OK() || !strings.Contains(r.Stdout, "odbackup drill passed: "+store) ||
		!strings.Contains(r.Stdout, "the sanity check SELECT EXISTS (SELECT 1 FROM customers) holds") {
		t.Fatalf("the drill of a good backup did not pass:\n%s", r)
	}
	good := e.MustRestic(t, s.RepoEnv(t), "dump", "--tag", "store="+store, "latest", "/"+db+".sql")

	// A shop without customers: the dump loads, the sanity check cannot
	// hold.
	e.MustMariaDB(t, db, `DELETE FROM customers;`)
	waitNextSecond()
	backup.MustRun(t, nil)
	drillFailed(t, e.drillAs(t, drill, "mysql", ""), store, "the sanity check SELECT EXISTS (SELECT 1 FROM customers) does not hold")

	// An emptied database: its dump loads, without tables.
	e.MustMariaDB(t, db, `DROP TABLE orders; DROP TABLE customers;`)
	waitNextSecond()
	backup.MustRun(t, nil)
	drillFailed(t, e.drillAs(t, drill, "mysql", ""), store, "database "+db+" restored without tables")

	// A dump cut in half is the newest snapshot: cut between two
	// statements it would load without an error.
	waitNextSecond()
	s.SeedSnapshot(t, store, db+".sql", []byte(good[:len(good)/2]), "database="+db)
	drillFailed(t, e.drillAs(t, drill, "mysql", ""), store, "the newest dump of "+db+" is cut short")
}

// TestDrillLDIF: the nightly LDIF export (run as generated, exec'ing into
// the stand-in LDAP pod whose /etc/ldap/slapd.conf is the test server's)
// records the pod's slapd modules and schema and the entry count; the
// drill loads that LDIF with the host's slapadd into a scratch database
// and passes. It fails on the same LDIF cut short, and on an LDIF with the
// right count whose entries do not load: an inetOrgPerson without its
// required sn, and an attribute the recorded schema does not define.
func TestDrillLDIF(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	const store = "nubus/pvc/shared-data-ums-ldap-server-primary-0"
	s := e.BuildSite(t, SiteSpec{Apps: []string{"nubus"}, Policy: `stores: {
	"nubus/postgresql/selfservice": backup: false
	"nubus/postgresql/nubus_authsession": backup: false
}
`})
	ou := "ou=" + Unique("drill-") + "," + e.LDAP.Base
	ldapModify(t, e, "ldapadd", ldapSeed(t, ou))
	t.Cleanup(func() {
		Run(t, Cmd{Args: []string{"ldapdelete", "-x", "-H", e.LDAP.URL, "-D", e.LDAP.RootDN, "-w", e.LDAP.Password, "-r", ou}})
	})
	export, drill := s.Export(t, store), s.Drill(t, store)
	env := export.ExecPod(t, "SLAPD_CONF="+e.LDAP.Conf)
	env["ODBACKUP_E2E_POD_ROOT"] = ldapPodRoot(t, e)
	export.MustRun(t, env)
	complete := e.MustRestic(t, s.RepoEnv(t), "dump", "--tag", "store="+store, "latest", "/ldap-primary.ldif")
	entries := strings.Count(complete, "\ndn: ")
	if !strings.HasPrefix(complete, "# odbackup: slapd ") || !strings.HasSuffix(complete, fmt.Sprintf("# odbackup: entries %d\n", entries)) || entries < 31 {
		t.Fatalf("the export did not record the slapd configuration and its %d entries:\n%s", entries, complete[:min(len(complete), 300)])
	}
	r := drill.Run(t, scratch(t))
	if !r.OK() || !strings.Contains(r.Stdout, fmt.Sprintf("odbackup drill: %d entries loaded into a scratch database", entries)) ||
		!strings.Contains(r.Stdout, "odbackup drill passed: "+store) {
		t.Fatalf("the drill of a complete LDIF did not pass:\n%s", r)
	}

	waitNextSecond()
	s.SeedSnapshot(t, store, "ldap-primary.ldif", []byte(complete[:len(complete)*2/3]), "export=ldap-primary.ldif")
	drillFailed(t, drill.Run(t, scratch(t)), store, "does not end with the entry count its backup recorded")

	// The same count, entries the live server's schema refuses.
	for _, c := range []struct{ name, from, to string }{
		{"without sn", "\nsn:: ", "\ndescription:: "},
		{"undefined attribute", "\nmail: ", "\nodbackupNoSuchAttribute: "},
	} {
		waitNextSecond()
		bad := strings.Replace(complete, c.from, c.to, 1)
		if bad == complete {
			t.Fatalf("%s: the LDIF has no %q", c.name, c.from)
		}
		s.SeedSnapshot(t, store, "ldap-primary.ldif", []byte(bad), "export=ldap-primary.ldif")
		drillFailed(t, drill.Run(t, scratch(t)), store, "slapadd cannot load the newest ldap-primary.ldif into a scratch database: ")
	}
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
