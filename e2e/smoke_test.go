package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmoke proves that every server the end-to-end tests need is up and
// reachable with the credentials of env.sh, and that the helpers work. It
// checks the servers, not odbackup.
func TestSmoke(t *testing.T) {
	e := Setup(t)

	t.Run("postgres", func(t *testing.T) {
		db := e.CreatePGDatabase(t, "smoke_", "TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'")
		e.MustPsql(t, db, `
CREATE TABLE t (id serial PRIMARY KEY, v text NOT NULL);
INSERT INTO t (v) VALUES ('Grüße'), ('日本語');`)
		got := e.MustPsql(t, db, `SELECT string_agg(v, ',' ORDER BY id) FROM t;
SELECT datcollate FROM pg_database WHERE datname = current_database();`)
		if want := "Grüße,日本語\nC\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		bad := e.PGEnv(db)
		bad["PGPASSWORD"] = "wrong"
		if r := Run(t, Cmd{Args: []string{"psql", "-X", "-c", "SELECT 1"}, Env: bad}); r.OK() {
			t.Errorf("psql with a wrong password succeeded:\n%s", r)
		}
	})

	t.Run("mariadb", func(t *testing.T) {
		db := Unique("smoke_")
		e.MustMariaDB(t, "", "CREATE DATABASE "+db+" CHARACTER SET utf8mb4;")
		t.Cleanup(func() { e.MariaDBCmd(t, "", "DROP DATABASE IF EXISTS "+db+";") })
		e.MustMariaDB(t, db, `
CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20) NOT NULL);
INSERT INTO t (v) VALUES ('Grüße'), ('日本語');`)
		got := e.MustMariaDB(t, db, "SELECT GROUP_CONCAT(v ORDER BY id) FROM t;")
		if want := "Grüße,日本語\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		got = e.MustMariaDB(t, "", "SHOW DATABASES LIKE 'smoke\\_%';")
		if !strings.Contains(got, db) {
			t.Errorf("SHOW DATABASES LIKE does not list %s: %q", db, got)
		}
	})

	t.Run("redis", func(t *testing.T) {
		if r := e.RedisCLI(t, "PING"); !r.OK() || strings.TrimSpace(r.Stdout) != "PONG" {
			t.Fatalf("PING:\n%s", r)
		}
		key := Unique("smoke:")
		e.RedisCLI(t, "SET", key, "v")
		if r := e.RedisCLI(t, "GET", key); strings.TrimSpace(r.Stdout) != "v" {
			t.Errorf("GET:\n%s", r)
		}
	})

	t.Run("ldap", func(t *testing.T) {
		r := e.LDAPSearch(t, e.LDAP.Base, "base", "(objectClass=*)", "dc")
		if !r.OK() || !strings.Contains(r.Stdout, "dn: "+e.LDAP.Base+"\n") {
			t.Fatalf("base entry missing:\n%s", r)
		}
	})

	t.Run("s3", func(t *testing.T) {
		bucket := e.CreateBucket(t, "smoke-")
		src := t.TempDir()
		files := map[string]string{"a.txt": "alpha", "dir/sub/b.bin": "\x00\x01\xff", "empty": ""}
		for name, content := range files {
			p := filepath.Join(src, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		e.MustRclone(t, "copy", src, "s3:"+bucket+"/prefix")
		got := e.MustRclone(t, "lsf", "-R", "--files-only", "s3:"+bucket)
		if want := "prefix/a.txt\nprefix/dir/sub/b.bin\nprefix/empty\n"; got != want {
			t.Errorf("listing: got %q, want %q", got, want)
		}
		if got := e.MustRclone(t, "cat", "s3:"+bucket+"/prefix/dir/sub/b.bin"); got != files["dir/sub/b.bin"] {
			t.Errorf("cat: got %q", got)
		}
		e.MustRclone(t, "check", src, "s3:"+bucket+"/prefix")
	})

	t.Run("restic", func(t *testing.T) {
		if v := e.MustRestic(t, nil, "version"); !strings.HasPrefix(v, "restic 0.18.1 ") {
			t.Errorf("restic version %q, want 0.18.1", v)
		}
		env := e.ResticRepo(t)
		if s := e.Snapshots(t, env); len(s) != 0 {
			t.Fatalf("new repository has snapshots: %v", s)
		}
		e.MustRestic(t, env, "backup", "--host", "smoke", "--tag", "app=smoke",
			"--stdin-filename", "hello.txt", "--stdin-from-command", "--", "printf", "hello")
		// A failing command must leave no snapshot (what the generated dump jobs rely on).
		if r := e.ResticCmd(t, env, "", "backup", "--stdin-filename", "x", "--stdin-from-command", "--", "sh", "-c", "exit 3"); r.OK() {
			t.Errorf("backup of a failing command succeeded:\n%s", r)
		}
		s := e.Snapshots(t, env, "--tag", "app=smoke")
		if len(s) != 1 || s[0].Hostname != "smoke" {
			t.Fatalf("snapshots: %+v", s)
		}
		if got := e.MustRestic(t, env, "dump", "latest", "/hello.txt"); got != "hello" {
			t.Errorf("dump: got %q", got)
		}
	})

	t.Run("kubernetes", func(t *testing.T) {
		if v := e.MustKubectl(t, "", "version", "-o", "json"); !strings.Contains(v, `"gitVersion": "v1.37.2"`) {
			t.Errorf("kubectl version: %s", v)
		}
		ns := e.CreateNamespace(t, "smoke-")
		vsc := Unique("smoke-")
		e.MustApply(t, ns, `
apiVersion: v1
kind: ServiceAccount
metadata: {name: snapshotter}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: snapshotter}
rules:
- apiGroups: [snapshot.storage.k8s.io]
  resources: [volumesnapshots]
  verbs: [create, get, list, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: snapshotter}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: snapshotter}
subjects:
- {kind: ServiceAccount, name: snapshotter}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: snapshot}
spec:
  schedule: "15 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: snapshotter
          restartPolicy: Never
          containers:
          - name: kubectl
            image: registry.k8s.io/kubectl:v1.37.2
            command: [kubectl, version]
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: `+vsc+`}
driver: driver.longhorn.io
deletionPolicy: Retain
`)
		e.MustKubectl(t, "", "get", "-n", ns, "cronjob/snapshot", "serviceaccount/snapshotter")
		e.MustKubectl(t, "", "get", "volumesnapshotclass/"+vsc)

		// Server-side validation and dry-run work on the built-in types and the CRDs.
		if r := e.Apply(t, ns, "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata: {name: "+vsc+"-bad}\ndriver: d\ndeletionPolicy: Sometimes\n"); r.OK() || !strings.Contains(r.Stderr, "deletionPolicy") {
			t.Errorf("invalid deletionPolicy accepted:\n%s", r)
		}
		e.MustKubectl(t, "", "create", "job", "--from=cronjob/snapshot", "manual", "-n", ns, "--dry-run=server")

		// RBAC is evaluated for ServiceAccounts.
		if !e.CanI(t, ns, ns, "snapshotter", "create", "volumesnapshots.snapshot.storage.k8s.io") {
			t.Error("snapshotter cannot create volumesnapshots in its namespace")
		}
		other := e.CreateNamespace(t, "smoke-other-")
		for _, c := range []struct{ ns, verb, resource string }{
			{ns, "get", "secrets"},
			{ns, "delete", "persistentvolumeclaims"},
			{ns, "patch", "volumesnapshots.snapshot.storage.k8s.io"},
			{other, "create", "volumesnapshots.snapshot.storage.k8s.io"},
		} {
			if e.CanI(t, c.ns, ns, "snapshotter", c.verb, c.resource) {
				t.Errorf("snapshotter can %s %s in %s", c.verb, c.resource, c.ns)
			}
		}
	})
}
