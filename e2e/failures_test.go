package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pgApp creates database db owned by the app's user role (the catalog's
// user of store), gives the Secret the step reads its password, and returns
// the store's backup step.
func pgApp(t testing.TB, e *Env, s *Site, store, user, db, sql string) *Container {
	t.Helper()
	c := s.Backup(t, store)
	password := e.EnsurePGRole(t, user)
	s.Secrets[c.SecretRef(t, "PGPASSWORD")] = password
	e.MustPsql(t, "", fmt.Sprintf(`CREATE DATABASE %q OWNER %q;`, db, user))
	t.Cleanup(func() { e.Psql(t, "", fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE);`, db)) })
	if sql != "" {
		e.PsqlAs(t, db, user, password, sql)
	}
	return c
}

// nextcloudDatabase is the store of Nextcloud's PostgreSQL database.
const nextcloudDatabase = "nextcloud/postgresql/nextcloud"

// nextcloudBackedUp builds a site of Nextcloud alone, with its database
// holding what sql makes, backs it up once and returns the site and the
// database's backup step.
func nextcloudBackedUp(t testing.TB, e *Env, sql string) (*Site, *Container) {
	t.Helper()
	const store = nextcloudDatabase
	db := Unique("nextcloud_")
	s := e.BuildSite(t, SiteSpec{
		Apps:   []string{"nextcloud"},
		Policy: fmt.Sprintf("stores: %q: connection: database: %q\n", store, db),
	})
	c := pgApp(t, e, s, store, "nextcloud_user", db, sql)
	c.MustRun(t, nil)
	return s, c
}

// noSnapshots fails the test if the repository holds a snapshot of store.
func noSnapshots(t testing.TB, e *Env, s *Site, store string) {
	t.Helper()
	if snaps := e.Snapshots(t, s.RepoEnv(t), "--tag", "store="+store); len(snaps) != 0 {
		t.Errorf("%d snapshot(s) of %s in the repository after a failed dump: %+v", len(snaps), store, snaps)
	}
}

// TestDumpFailsHalfWay: a dump that breaks off after it has written part of
// its output must fail the step and leave no snapshot, because a snapshot
// of half a database would later be restored as if it were whole. restic
// backup --stdin-from-command gives this without pipefail, which POSIX sh
// lacks. Not parallel: it stops PostgreSQL.
func TestDumpFailsHalfWay(t *testing.T) {
	e := Setup(t)

	t.Run("postgres stopped during the dump", func(t *testing.T) {
		db := Unique("nextcloud_")
		const store = "nextcloud/postgresql/nextcloud"
		s := e.BuildSite(t, SiteSpec{
			Apps:   []string{"nextcloud"},
			Policy: fmt.Sprintf("stores: %q: connection: database: %q\n", store, db),
		})
		// Two large tables: pg_dump streams the first while the server
		// goes down, and the second is still to come.
		c := pgApp(t, e, s, store, "nextcloud_user", db, `
CREATE TABLE a_small (id int PRIMARY KEY, v text);
INSERT INTO a_small SELECT i, 'row ' || i FROM generate_series(1, 1000) i;
CREATE TABLE big1 (id int, v text);
INSERT INTO big1 SELECT i, repeat(md5(i::text), 3) FROM generate_series(1, 250000) i;
CREATE TABLE big2 (id int, v text);
INSERT INTO big2 SELECT i, repeat(md5(i::text), 3) FROM generate_series(1, 250000) i;`)
		// Wait until pg_dump copies a large table, then stop the server.
		done := RunUntil(t, c.Cmd(t, nil), "pg_dump copied the large tables", 20*time.Millisecond, func() bool {
			return strings.TrimSpace(e.MustPsql(t, "", fmt.Sprintf(`SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND state = 'active' AND query LIKE 'COPY public.big%%';`, db))) == "1"
		})
		e.Servers(t, "stop", "postgres")
		r := <-done
		e.Servers(t, "start", "postgres")
		if r.OK() {
			t.Errorf("the backup succeeded although PostgreSQL stopped during pg_dump:\n%s", r)
		}
		// restic says the dump failed; pg_dump's own message may be lost:
		// restic 0.18 closes the command's stderr pipe when the command
		// exits, before it has read all of it (os/exec's StderrPipe and
		// Wait race).
		if !strings.Contains(r.Stderr, "command failed") {
			t.Errorf("the step's log does not say that the dump failed:\n%s", r)
		}
		noSnapshots(t, e, s, store)
	})

	t.Run("mariadb-dump breaks off in the second database", func(t *testing.T) {
		prefix := Unique("hw_")
		const store = "ox-appsuite/mariadb/PRIMARYDB_*"
		s := e.BuildSite(t, SiteSpec{
			Apps: []string{"ox-appsuite"},
			Policy: fmt.Sprintf(`stores: {
	"ox-appsuite/redis/cache": backup: false
	%q: connection: database: "%s_*"
}
`, store, prefix),
		})
		ok, broken := prefix+"_1", prefix+"_2"
		t.Cleanup(func() {
			e.MariaDBCmd(t, "", fmt.Sprintf("DROP DATABASE IF EXISTS `%s`; DROP DATABASE IF EXISTS `%s`;", ok, broken))
		})
		for _, db := range []string{ok, broken} {
			e.MustMariaDB(t, "", fmt.Sprintf("CREATE DATABASE `%s`;", db))
			e.MustMariaDB(t, db, `CREATE TABLE a (id INT PRIMARY KEY, v TEXT);
INSERT INTO a SELECT seq, CONCAT('row ', seq) FROM seq_1_to_2000;`)
		}
		// A view whose table is gone: mariadb-dump has written the
		// database's tables when it reaches it, then fails.
		e.MustMariaDB(t, broken, "CREATE TABLE gone (id INT); CREATE VIEW zz AS SELECT * FROM gone; DROP TABLE gone;")
		c := s.Backup(t, store)
		s.Secrets[c.SecretRef(t, "MYSQL_PWD")] = e.MariaDB.Password
		r := c.Run(t, nil)
		if r.OK() || !strings.Contains(r.Stderr, "references invalid table") {
			t.Errorf("the backup did not fail on the broken database:\n%s", r)
		}
		snaps := e.Snapshots(t, s.RepoEnv(t), "--tag", "store="+store)
		if len(snaps) != 1 || !strings.Contains(strings.Join(snaps[0].Tags, ","), "database="+ok) {
			t.Errorf("want one snapshot, of %s (dumped before the broken one), got %+v", ok, snaps)
		}
	})
}

// TestDumpWrongPassword: a dump that cannot log in fails the step and
// leaves no snapshot (an empty dump must never become a snapshot).
func TestDumpWrongPassword(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	s := e.BuildSite(t, SiteSpec{
		Apps:   []string{"nextcloud", "ox-appsuite"},
		Policy: fmt.Sprintf("stores: {\n\t\"ox-appsuite/redis/cache\": backup: true\n\t\"nextcloud/postgresql/nextcloud\": connection: database: %q\n}\n", Unique("nextcloud_")),
	})
	for _, c := range []struct{ store, env string }{
		{"nextcloud/postgresql/nextcloud", "PGPASSWORD"},
		{"ox-appsuite/mariadb/configdb", "MYSQL_PWD"},
		{"ox-appsuite/mariadb/PRIMARYDB_*", "MYSQL_PWD"},
		{"ox-appsuite/redis/cache", "REDISCLI_AUTH"},
	} {
		t.Run(c.store, func(t *testing.T) {
			step := s.Backup(t, c.store)
			s.Secrets[step.SecretRef(t, c.env)] = "wrong-password"
			if r := step.Run(t, nil); r.OK() {
				t.Errorf("the backup succeeded with a wrong password:\n%s", r)
			}
			noSnapshots(t, e, s, c.store)
		})
	}
}

// TestUnreachableTarget: a target that cannot be reached fails the step
// with a message that names it, within a bounded time.
func TestUnreachableTarget(t *testing.T) {
	e := Setup(t)
	t.Parallel()

	t.Run("restic repository", func(t *testing.T) {
		const store = "nextcloud/postgresql/nextcloud"
		db := Unique("nextcloud_")
		repo := "s3:http://127.0.0.1:" + freePort(t) + "/opendesk-backup/restic"
		s := e.BuildSite(t, SiteSpec{
			Apps:   []string{"nextcloud"},
			Repo:   repo,
			Policy: fmt.Sprintf("stores: %q: connection: database: %q\n", store, db),
		})
		c := pgApp(t, e, s, store, "nextcloud_user", db, "CREATE TABLE t (v text);")
		// restic retries a failing repository for 15 minutes per request;
		// the script bounds its first contact by this variable.
		cmd := c.Cmd(t, map[string]string{"ODBACKUP_REPOSITORY_TIMEOUT": "3"})
		cmd.Timeout = 90 * time.Second
		r := Run(t, cmd)
		if r.OK() || r.Err != nil {
			t.Fatalf("the backup to an unreachable repository did not fail on its own:\n%s", r)
		}
		if !strings.Contains(r.Stderr, repo) {
			t.Errorf("the error does not name the repository %s:\n%s", repo, r)
		}
	})

	t.Run("bucket mirror", func(t *testing.T) {
		const store = "nextcloud/s3/nextcloud"
		bucket := e.CreateBucket(t, "nextcloud-")
		f := filepath.Join(t.TempDir(), "file.txt")
		writeFile(t, f, []byte("a file"))
		e.MustRclone(t, "copyto", f, "s3:"+bucket+"/file.txt")
		endpoint := "http://127.0.0.1:" + freePort(t)
		s := e.BuildSite(t, SiteSpec{
			Apps:           []string{"nextcloud"},
			MirrorEndpoint: endpoint,
			Policy:         fmt.Sprintf("stores: %q: connection: {bucket: %q, accessKeyID: %q}\n", store, bucket, e.S3.AccessKey),
		})
		c := s.Backup(t, store)
		s.Secrets[c.SecretRef(t, "RCLONE_CONFIG_SOURCE_SECRET_ACCESS_KEY")] = e.S3.SecretKey
		// rclone's own retries (3 attempts of 10 low-level retries) take
		// minutes against a closed port; one of each shows the same failure.
		cmd := c.Cmd(t, map[string]string{"RCLONE_RETRIES": "1", "RCLONE_LOW_LEVEL_RETRIES": "1"})
		cmd.Timeout = 90 * time.Second
		r := Run(t, cmd)
		if r.OK() || r.Err != nil {
			t.Fatalf("the mirror to an unreachable endpoint did not fail on its own:\n%s", r)
		}
		if !strings.Contains(r.Stderr, strings.TrimPrefix(endpoint, "http://")) {
			t.Errorf("the error does not name the endpoint %s:\n%s", endpoint, r)
		}
	})

	t.Run("database", func(t *testing.T) {
		const store = "nextcloud/postgresql/nextcloud"
		s := e.BuildSite(t, SiteSpec{
			Apps:   []string{"nextcloud"},
			Policy: fmt.Sprintf("stores: %q: connection: port: %s\n", store, freePort(t)),
		})
		c := s.Backup(t, store)
		s.Secrets[c.SecretRef(t, "PGPASSWORD")] = "unused"
		if r := c.Run(t, nil); r.OK() || !strings.Contains(r.Stderr, "Connection refused") {
			t.Errorf("the dump of an unreachable database did not fail loudly:\n%s", r)
		}
		noSnapshots(t, e, s, store)
	})
}

// TestWrongRepositoryPassword: a restic password that does not open the
// existing repository fails the backup with a message that says so, and
// adds no snapshot.
func TestWrongRepositoryPassword(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	s, c := nextcloudBackedUp(t, e, "CREATE TABLE t (v text);")
	password := c.SecretRef(t, "RESTIC_PASSWORD")
	right := s.Secrets[password]
	s.Secrets[password] = "not-the-repository-password"
	r := c.Run(t, nil)
	s.Secrets[password] = right
	if r.OK() || !strings.Contains(r.Stderr, "the restic password does not open the repository "+s.Repo) {
		t.Errorf("the backup with a wrong restic password did not fail saying so:\n%s", r)
	}
	if n := len(e.Snapshots(t, s.RepoEnv(t), "--tag", "store="+nextcloudDatabase)); n != 1 {
		t.Errorf("%d snapshots, want the first run's only", n)
	}
}

// TestRepositoryInitWording: the Job that creates the repository takes
// any refusal of restic init for a reason to look, not for a failure: a
// restic whose init words "exists already" differently still finds the
// repository (restic cat config opens it) and the Job succeeds.
func TestRepositoryInitWording(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	s, c := nextcloudBackedUp(t, e, "CREATE TABLE t (v text);")
	init := s.RepositoryInit(t)
	dir := t.TempDir()
	shim, called := filepath.Join(dir, "restic"), filepath.Join(dir, "init-called")
	writeFile(t, shim, []byte("#!/bin/sh\nif [ \"$1\" = init ]; then\n\ttouch "+called+"\n\techo 'Fatal: a wording odbackup does not know' >&2\n\texit 1\nfi\nexec "+e.Restic+" \"$@\"\n"))
	if err := os.Chmod(shim, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Dir(shim) + ":" + e.toolPath(t, init.busybox())
	r := init.MustRun(t, map[string]string{"PATH": path})
	if _, err := os.Stat(called); err != nil {
		t.Errorf("the Job did not run restic init: %v", err)
	}
	if !strings.Contains(r.Stdout, "exists already and the password opens it") {
		t.Errorf("the Job did not find the existing repository:\n%s", r)
	}
	c.MustRun(t, nil)
	if n := len(e.Snapshots(t, s.RepoEnv(t), "--tag", "store="+nextcloudDatabase)); n != 2 {
		t.Errorf("%d snapshots after two runs, want 2", n)
	}
}

// TestDumpWithoutStdbuf: the PostgreSQL backup gives pg_dump a larger
// output buffer with coreutils' stdbuf where the image has it; in an image
// without it (an Alpine one: busybox, no stdbuf) the dump must still run,
// unbuffered, into a snapshot that holds the data.
func TestDumpWithoutStdbuf(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	s, c := nextcloudBackedUp(t, e, "CREATE TABLE t (v text); INSERT INTO t VALUES ('unbuffered');")
	// Only busybox's applets, the pinned tools and pg_dump: no stdbuf.
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(e.PG.Bin, "pg_dump"), filepath.Join(dir, "pg_dump")); err != nil {
		t.Fatal(err)
	}
	applets := strings.SplitN(e.toolPath(t, true), ":", 2)[0]
	path := dir + ":" + applets + ":" + e.Bin
	if r := Run(t, Cmd{Args: []string{"busybox", "sh", "-c", "command -v stdbuf"}, Env: map[string]string{"PATH": path}}); r.OK() {
		t.Fatalf("stdbuf is on the test's PATH %s:\n%s", path, r)
	}
	cmd := c.Cmd(t, map[string]string{"PATH": path})
	cmd.Args = []string{"busybox", "sh", "-c", c.Script()}
	cmd.Desc = fmt.Sprintf("busybox sh -c <script of %s, container %s> (PATH without stdbuf)", c.Owner, c.Name)
	if r := Run(t, cmd); !r.OK() {
		t.Fatalf("the backup without stdbuf failed:\n%s", r)
	}
	snaps := e.Snapshots(t, s.RepoEnv(t), "--tag", "store="+nextcloudDatabase)
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots after two runs, want 2", len(snaps))
	}
	newest := slices.MaxFunc(snaps, func(a, b Snapshot) int { return a.Time.Compare(b.Time) })
	// --compress=0: the archive holds the table's rows as COPY text.
	if dump := e.MustRestic(t, s.RepoEnv(t), "dump", "--no-lock", newest.ID, newest.Paths[0]); !strings.Contains(dump, "unbuffered") {
		t.Errorf("the unbuffered dump %s of snapshot %s does not hold the table's row", newest.Paths[0], newest.ShortID)
	}
}

// staleLock leaves an exclusive lock in the site's repository, held by a
// restic process that was killed (as a Job killed by its deadline or an
// OOM kill leaves it): restic key passwd takes the exclusive lock, then
// blocks reading the new password from a FIFO nobody writes, and is killed.
func staleLock(t testing.TB, e *Env, s *Site) {
	t.Helper()
	env := s.RepoEnv(t)
	fifo := filepath.Join(t.TempDir(), "never")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.Restic, "key", "passwd", "--new-password-file", fifo)
	cmd.Env = Environ(env)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out := e.MustRestic(t, env, "list", "locks", "--no-lock")
		if strings.TrimSpace(out) != "" {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("restic key passwd took no lock")
		}
		time.Sleep(200 * time.Millisecond)
	}
	cmd.Process.Signal(os.Kill)
	cmd.Wait()
	if out := e.MustRestic(t, env, "list", "locks", "--no-lock"); strings.Count(out, "\n") != 1 {
		t.Fatalf("want one stale lock, got:\n%s", out)
	}
}

// TestStaleLock: the lock a killed restic leaves must not stop the next
// backup, the next maintenance run or a restore (a backup that finds the
// repository locked, and every maintenance run, call restic unlock, which
// removes only locks whose process is gone, or that are older than 30
// minutes; restores read without a lock).
func TestStaleLock(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	s, c := nextcloudBackedUp(t, e, "CREATE TABLE t (v text); INSERT INTO t VALUES ('a');")
	store := nextcloudDatabase
	for _, step := range []*Container{c, s.Maintenance(t), s.Restore(t, store, "pg_dump")} {
		staleLock(t, e, s)
		// Without the unlock, restic would wait for the lock (10 minutes
		// for a backup, an hour for maintenance) and then fail.
		cmd := step.Cmd(t, nil)
		cmd.Timeout = 2 * time.Minute
		r := Run(t, cmd)
		if !r.OK() {
			t.Errorf("%s, container %s did not get past a stale lock:\n%s", step.Owner, step.Name, r)
		}
		if step == c && !strings.Contains(r.Stdout, "is locked; removing stale locks") {
			t.Errorf("the backup did not say it found the repository locked:\n%s", r)
		}
	}
	// Both backups stay: the newest of the day, and the oldest snapshot
	// (restic keeps it while a --keep-* count is left).
	if n := len(e.Snapshots(t, s.RepoEnv(t), "--no-lock", "--tag", "store="+store)); n != 2 {
		t.Errorf("%d snapshots after maintenance, want 2", n)
	}
}

// TestFirstRun: on a new target whose buckets do not exist yet, a backup
// before the repository exists fails at once, naming the Job that creates
// it, and creates nothing; that Job creates the bucket and the repository
// and is safe to run again; then the backups run, and rclone creates the
// mirror bucket on its first copy.
func TestFirstRun(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	db, bucket := Unique("nextcloud_"), e.CreateBucket(t, "nextcloud-")
	s := e.BuildSite(t, SiteSpec{
		Apps:      []string{"nextcloud"},
		NewTarget: true,
		Policy: fmt.Sprintf(`stores: {
	"nextcloud/postgresql/nextcloud": connection: database: %q
	"nextcloud/s3/nextcloud": connection: {bucket: %q, accessKeyID: %q}
}
`, db, bucket, e.S3.AccessKey),
	})
	f := filepath.Join(t.TempDir(), "file.txt")
	writeFile(t, f, []byte("a file"))
	e.MustRclone(t, "copyto", f, "s3:"+bucket+"/dir/file.txt")
	pg := pgApp(t, e, s, "nextcloud/postgresql/nextcloud", "nextcloud_user", db, "CREATE TABLE t (v text);")
	init := s.RepositoryInit(t)
	// The bucket does not exist either: restic retries it like an
	// unreachable server, so the backup gives up after the bound.
	r := pg.Run(t, map[string]string{"ODBACKUP_REPOSITORY_TIMEOUT": "5"})
	if r.OK() || !strings.Contains(r.Stderr, "of "+init.Owner) {
		t.Errorf("a backup before the repository exists did not fail naming %s:\n%s", init.Owner, r)
	}
	if out := e.MustRclone(t, "lsd", "s3:"); strings.Contains(out, s.RepoBucket) {
		t.Errorf("the failed backup created the repository's bucket %s", s.RepoBucket)
	}
	if r := init.MustRun(t, nil); !strings.Contains(r.Stdout, "created the restic repository") {
		t.Errorf("the init Job did not say it created the repository:\n%s", r)
	}
	if r := init.MustRun(t, nil); !strings.Contains(r.Stdout, "exists already and the password opens it") {
		t.Errorf("the init Job, run again, did not say the repository exists:\n%s", r)
	}
	pg.MustRun(t, nil)
	pg.MustRun(t, nil)
	if n := len(e.Snapshots(t, s.RepoEnv(t))); n != 2 {
		t.Errorf("%d snapshots after two runs, want 2", n)
	}
	mirror := s.Backup(t, "nextcloud/s3/nextcloud")
	s.Secrets[mirror.SecretRef(t, "RCLONE_CONFIG_SOURCE_SECRET_ACCESS_KEY")] = e.S3.SecretKey
	mirror.MustRun(t, nil)
	// The bucket's one object and the sample its restore drill checks
	// (drill/sample.md5), both encrypted.
	if out := e.MustRclone(t, "lsf", "-R", "--files-only", "s3:"+s.MirrorBucket); strings.Count(out, "\n") != 2 {
		t.Errorf("the new mirror bucket holds, besides the drill's sample:\n%s", out)
	}
}

// TestBackupsOnANewTargetAtOnce: backups of several jobs starting together
// on a target whose repository does not exist yet all fail and create
// nothing. Two restic init at once leave a repository that only one of
// their keys opens (on this S3 server: 2 of 5 tries), so no backup creates
// one; the Job of repository/<target>.yaml does, once.
func TestBackupsOnANewTargetAtOnce(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	db := Unique("nextcloud_")
	s := e.BuildSite(t, SiteSpec{
		Apps:      []string{"nextcloud"},
		NewTarget: true,
		Policy:    fmt.Sprintf("stores: %q: connection: database: %q\n", "nextcloud/postgresql/nextcloud", db),
	})
	e.MustRclone(t, "mkdir", "s3:"+s.RepoBucket)
	pg := pgApp(t, e, s, "nextcloud/postgresql/nextcloud", "nextcloud_user", db, "CREATE TABLE t (v text);")
	results := make(chan Result, 4)
	for range 4 {
		go func() { results <- pg.Run(t, nil) }()
	}
	for range 4 {
		if r := <-results; r.OK() || !strings.Contains(r.Stderr, "does not exist") {
			t.Errorf("a backup on a target without a repository did not fail saying so:\n%s", r)
		}
	}
	if r := e.ResticCmd(t, s.RepoEnv(t), "", "cat", "config", "--no-lock"); r.OK() || r.ExitCode != 10 {
		t.Errorf("the backups created a repository: restic cat config exits %d", r.ExitCode)
	}
}
