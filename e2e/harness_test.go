// Package e2e holds the end-to-end tests: they run against real servers
// (PostgreSQL, MariaDB, Redis, OpenLDAP, an S3 server, etcd and
// kube-apiserver) that e2e/scripts/servers.sh starts on loopback. Without
// ODBACKUP_E2E set, every test skips, so `go test ./...` stays fast; `make e2e`
// builds the tools, starts the servers and runs them. See e2e/README.md.
//
// This file is the shared harness: it reads the variables servers.sh writes
// to $ODBACKUP_E2E_DIR/env.sh and offers helpers to run commands against the
// servers.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// DefaultTimeout bounds every command the harness runs, unless Cmd.Timeout
// says otherwise.
const DefaultTimeout = 5 * time.Minute

// Env describes the running servers. Every field comes from a variable of
// env.sh (named in the comment).
type Env struct {
	Dir string // ODBACKUP_E2E_DIR: data, logs and pid files of the servers
	Bin string // ODBACKUP_E2E_BIN: the pinned binaries (also first on PATH)

	PG      PGServer
	MariaDB MariaDBServer
	Redis   RedisServer
	LDAP    LDAPServer
	S3      S3Server
	Kube    KubeServer

	Kubectl   string // ODBACKUP_E2E_KUBECTL: kubectl v1.37.2
	Restic    string // ODBACKUP_E2E_RESTIC: restic v0.18.1
	Versitygw string // ODBACKUP_E2E_VERSITYGW: the S3 server binary
}

// PGServer is PostgreSQL 15. TCP connections need the password; the
// superuser is PG.User.
type PGServer struct {
	Host, Port, User, Password string // ODBACKUP_E2E_PG_{HOST,PORT,USER,PASSWORD}
	Bin                        string // ODBACKUP_E2E_PG_BIN: initdb, pg_ctl, pg_dump, ...
	Data                       string // ODBACKUP_E2E_PG_DATA: the data directory
}

// MariaDBServer is MariaDB 10.11; User is root (all privileges).
type MariaDBServer struct {
	Host, Port, User, Password string // ODBACKUP_E2E_MARIADB_{HOST,PORT,USER,PASSWORD}
	Socket                     string // ODBACKUP_E2E_MARIADB_SOCKET
}

// RedisServer is Redis 7 with requirepass Password and no persistence
// configured; Dir is its working directory (dump.rdb).
type RedisServer struct {
	Host, Port, Password, Dir string // ODBACKUP_E2E_REDIS_{HOST,PORT,PASSWORD,DIR}
}

// LDAPServer is OpenLDAP slapd with one mdb database, suffix Base
// (dc=swp-ldap,dc=internal, as in openDesk's Nubus), holding the base entry.
// Conf is its slapd.conf, for slapcat -f and slapadd -f.
type LDAPServer struct {
	URL, Base, RootDN, Password string // ODBACKUP_E2E_LDAP_{URL,BASE,ROOTDN,PASSWORD}
	Conf                        string // ODBACKUP_E2E_LDAP_CONF
}

// S3Server is versitygw (posix backend) with one root key pair.
type S3Server struct {
	Endpoint, AccessKey, SecretKey, Region string // ODBACKUP_E2E_S3_{ENDPOINT,ACCESS_KEY,SECRET_KEY,REGION}
}

// KubeServer is kube-apiserver v1.37.2 on etcd 3.6, RBAC authorization, with
// the CSI snapshot CRDs installed. No controller-manager, scheduler or
// kubelet runs: objects are stored and validated, never acted on.
type KubeServer struct {
	Kubeconfig string // KUBECONFIG: token auth as a system:masters user
	Server     string // ODBACKUP_E2E_KUBE_SERVER
	Token      string // ODBACKUP_E2E_KUBE_TOKEN
	CRDDir     string // ODBACKUP_E2E_CRD_DIR: the three snapshot.storage.k8s.io CRDs
}

// Setup skips the test unless ODBACKUP_E2E is set. When it is set, every
// variable of env.sh must be there too; a missing one fails the test.
func Setup(t testing.TB) *Env {
	t.Helper()
	if os.Getenv("ODBACKUP_E2E") == "" {
		t.Skip("end-to-end test: set ODBACKUP_E2E=1 with the servers running (make e2e; see e2e/README.md)")
	}
	var missing []string
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	e := &Env{
		Dir: get("ODBACKUP_E2E_DIR"),
		Bin: get("ODBACKUP_E2E_BIN"),
		PG: PGServer{
			Host:     get("ODBACKUP_E2E_PG_HOST"),
			Port:     get("ODBACKUP_E2E_PG_PORT"),
			User:     get("ODBACKUP_E2E_PG_USER"),
			Password: get("ODBACKUP_E2E_PG_PASSWORD"),
			Bin:      get("ODBACKUP_E2E_PG_BIN"),
			Data:     get("ODBACKUP_E2E_PG_DATA"),
		},
		MariaDB: MariaDBServer{
			Host:     get("ODBACKUP_E2E_MARIADB_HOST"),
			Port:     get("ODBACKUP_E2E_MARIADB_PORT"),
			User:     get("ODBACKUP_E2E_MARIADB_USER"),
			Password: get("ODBACKUP_E2E_MARIADB_PASSWORD"),
			Socket:   get("ODBACKUP_E2E_MARIADB_SOCKET"),
		},
		Redis: RedisServer{
			Host:     get("ODBACKUP_E2E_REDIS_HOST"),
			Port:     get("ODBACKUP_E2E_REDIS_PORT"),
			Password: get("ODBACKUP_E2E_REDIS_PASSWORD"),
			Dir:      get("ODBACKUP_E2E_REDIS_DIR"),
		},
		LDAP: LDAPServer{
			URL:      get("ODBACKUP_E2E_LDAP_URL"),
			Base:     get("ODBACKUP_E2E_LDAP_BASE"),
			RootDN:   get("ODBACKUP_E2E_LDAP_ROOTDN"),
			Password: get("ODBACKUP_E2E_LDAP_PASSWORD"),
			Conf:     get("ODBACKUP_E2E_LDAP_CONF"),
		},
		S3: S3Server{
			Endpoint:  get("ODBACKUP_E2E_S3_ENDPOINT"),
			AccessKey: get("ODBACKUP_E2E_S3_ACCESS_KEY"),
			SecretKey: get("ODBACKUP_E2E_S3_SECRET_KEY"),
			Region:    get("ODBACKUP_E2E_S3_REGION"),
		},
		Kube: KubeServer{
			Kubeconfig: get("KUBECONFIG"),
			Server:     get("ODBACKUP_E2E_KUBE_SERVER"),
			Token:      get("ODBACKUP_E2E_KUBE_TOKEN"),
			CRDDir:     get("ODBACKUP_E2E_CRD_DIR"),
		},
		Kubectl:   get("ODBACKUP_E2E_KUBECTL"),
		Restic:    get("ODBACKUP_E2E_RESTIC"),
		Versitygw: get("ODBACKUP_E2E_VERSITYGW"),
	}
	if len(missing) > 0 {
		t.Fatalf("ODBACKUP_E2E is set but %s missing: start the servers with e2e/scripts/servers.sh start and source $ODBACKUP_E2E_DIR/env.sh (or run make e2e)",
			strings.Join(missing, ", "))
	}
	return e
}

// Unique returns prefix followed by 8 random lowercase hex digits, for
// names of namespaces, buckets and databases that no other test uses (the
// servers are shared by every test of a run). With a lowercase prefix the
// result is a valid DNS-1123 label and S3 bucket name.
func Unique(prefix string) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

// Cmd is a command to run.
type Cmd struct {
	Args    []string          // the program and its arguments
	Env     map[string]string // added to (and overriding) the base environment; see Environ
	Stdin   io.Reader         // nil: no input
	Dir     string            // working directory; "" means the test's
	Timeout time.Duration     // 0 means DefaultTimeout
	// Desc replaces the command line in the log and in Result.Cmd (a
	// generated script is long; its container names it better).
	Desc string
}

// Result is what a command did. ExitCode is -1 when it did not run or was
// killed (Err says why).
type Result struct {
	Cmd            string
	Stdout, Stderr string
	ExitCode       int
	Err            error
}

// OK reports whether the command ran and exited 0.
func (r Result) OK() bool { return r.Err == nil && r.ExitCode == 0 }

// String describes the result for a failure message: the command, its exit
// status and the tails of its output.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ %s\nexit code %d", r.Cmd, r.ExitCode)
	if r.Err != nil {
		fmt.Fprintf(&b, " (%v)", r.Err)
	}
	fmt.Fprintf(&b, "\n--- stdout ---\n%s\n--- stderr ---\n%s", tail(r.Stdout), tail(r.Stderr))
	return b.String()
}

func tail(s string) string {
	const max = 4000
	if len(s) <= max {
		return s
	}
	return "[... " + fmt.Sprint(len(s)-max) + " bytes cut ...]" + s[len(s)-max:]
}

// scrubbedPrefixes are the variables Environ drops from the test process's
// environment, so that a command sees only the credentials and targets a test
// passes explicitly (as a container sees only its own env). AWS_CA_BUNDLE
// in particular breaks rclone 1.60's S3 client.
var scrubbedPrefixes = []string{
	"AWS_", "RESTIC_", "RCLONE_", "PG", "MYSQL_", "MARIADB_", "REDISCLI_", "LDAP",
}

// Environ is the environment a command runs with: the test process's
// environment without the variables named by scrubbedPrefixes (PATH,
// HOME, KUBECONFIG and the ODBACKUP_E2E_* variables stay), plus env.
func Environ(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := env[name]; ok {
			continue
		}
		scrub := false
		for _, p := range scrubbedPrefixes {
			if strings.HasPrefix(name, p) {
				scrub = true
				break
			}
		}
		if !scrub {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// Run runs c and returns what happened; a non-zero exit is not a test
// failure (use MustRun for that). The command is killed when its timeout
// passes. Run works in t.Cleanup functions too.
func Run(t testing.TB, c Cmd) Result {
	t.Helper()
	r := Result{Cmd: shellQuote(c.Args), ExitCode: -1}
	if c.Desc != "" {
		r.Cmd = c.Desc
	}
	if len(c.Args) == 0 {
		r.Err = errors.New("no command")
		return r
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	// Not t.Context(): that is cancelled before Cleanup functions run.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Env = Environ(c.Env)
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r.Stdout, r.Stderr = stdout.String(), stderr.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
		r.ExitCode = 0
	case errors.As(err, &exit) && exit.Exited():
		r.ExitCode = exit.ExitCode()
	default:
		r.Err = err
		if ctx.Err() != nil {
			r.Err = fmt.Errorf("%w (timeout %s)", err, timeout)
		}
	}
	t.Logf("$ %s  # exit %d, %s", r.Cmd, r.ExitCode, time.Since(start).Round(time.Millisecond))
	return r
}

// MustRun runs c and fails the test unless it exits 0; it returns stdout.
func MustRun(t testing.TB, c Cmd) string {
	t.Helper()
	return must(t, "command", Run(t, c))
}

// must fails the test unless r is a successful run of what; it returns
// stdout.
func must(t testing.TB, what string, r Result) string {
	t.Helper()
	if !r.OK() {
		t.Fatalf("%s failed:\n%s", what, r)
	}
	return r.Stdout
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func stdin(s string) io.Reader {
	if s == "" {
		return nil
	}
	return strings.NewReader(s)
}

// ---- Kubernetes ----

// KubectlCmd runs the pinned kubectl against the test API server with
// input on stdin ("" for none).
func (e *Env) KubectlCmd(t testing.TB, input string, args ...string) Result {
	t.Helper()
	return Run(t, Cmd{
		Args:  append([]string{e.Kubectl, "--kubeconfig", e.Kube.Kubeconfig}, args...),
		Stdin: stdin(input),
	})
}

// MustKubectl is KubectlCmd that fails the test unless kubectl exits 0; it
// returns stdout.
func (e *Env) MustKubectl(t testing.TB, input string, args ...string) string {
	t.Helper()
	return must(t, "kubectl", e.KubectlCmd(t, input, args...))
}

// CreateNamespace creates a namespace named prefix plus a random suffix and
// returns its name. It is never deleted: without a controller-manager a
// deleted namespace stays Terminating, and the servers are thrown away after
// the run anyway. Namespaced objects (and --dry-run=server of them) need
// their namespace to exist for real.
func (e *Env) CreateNamespace(t testing.TB, prefix string) string {
	t.Helper()
	ns := Unique(prefix)
	e.MustKubectl(t, "", "create", "namespace", ns)
	return ns
}

// Apply server-side applies manifests (YAML or JSON, several documents
// allowed) into namespace ns ("" for the kubeconfig's default; cluster-scoped
// objects ignore it) and returns the result; extra arguments such as
// "--dry-run=server" are appended.
func (e *Env) Apply(t testing.TB, ns, manifests string, extra ...string) Result {
	t.Helper()
	return e.KubectlCmd(t, manifests, e.applyArgs(ns, "-", extra)...)
}

// MustApply is Apply that fails the test unless it succeeds.
func (e *Env) MustApply(t testing.TB, ns, manifests string, extra ...string) string {
	t.Helper()
	return e.MustKubectl(t, manifests, e.applyArgs(ns, "-", extra)...)
}

// MustApplyFile server-side applies a file or a directory of manifests.
func (e *Env) MustApplyFile(t testing.TB, ns, path string, extra ...string) string {
	t.Helper()
	return e.MustKubectl(t, "", e.applyArgs(ns, path, extra)...)
}

func (e *Env) applyArgs(ns, file string, extra []string) []string {
	args := []string{"apply", "--server-side", "--field-manager=odbackup-e2e", "-f", file}
	if ns != "" {
		args = append(args, "--namespace", ns)
	}
	return append(args, extra...)
}

// CanI asks the API server's RBAC authorizer whether ServiceAccount sa of
// namespace saNS may do verb on resource in namespace ns (extra: e.g.
// "--subresource=exec" or a resource name as part of resource,
// "pods/my-pod"). A kubectl error other than "no" fails the test.
func (e *Env) CanI(t testing.TB, ns, saNS, sa, verb, resource string, extra ...string) bool {
	t.Helper()
	args := append([]string{"auth", "can-i", verb, resource, "--namespace", ns,
		"--as", "system:serviceaccount:" + saNS + ":" + sa}, extra...)
	r := e.KubectlCmd(t, "", args...)
	switch {
	case r.OK() && strings.TrimSpace(r.Stdout) == "yes":
		return true
	case r.ExitCode == 1 && strings.HasPrefix(strings.TrimSpace(r.Stdout), "no"):
		return false
	}
	t.Fatalf("kubectl auth can-i failed:\n%s", r)
	return false
}

// ---- PostgreSQL ----

// PGEnv is the libpq environment for database db ("" for the default)
// as the superuser over TCP.
func (e *Env) PGEnv(db string) map[string]string {
	m := map[string]string{
		"PGHOST": e.PG.Host, "PGPORT": e.PG.Port,
		"PGUSER": e.PG.User, "PGPASSWORD": e.PG.Password,
	}
	if db != "" {
		m["PGDATABASE"] = db
	}
	return m
}

// Psql runs sql (one or more statements, stopping at the first error) in
// database db with psql, unaligned and tuples only: one row per line,
// columns separated by '|'.
func (e *Env) Psql(t testing.TB, db, sql string) Result {
	t.Helper()
	if db == "" {
		db = "postgres"
	}
	return Run(t, Cmd{
		Args:  []string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-d", db, "-f", "-"},
		Env:   e.PGEnv(db),
		Stdin: strings.NewReader(sql),
	})
}

// MustPsql is Psql that fails the test on an error; it returns stdout.
func (e *Env) MustPsql(t testing.TB, db, sql string) string {
	t.Helper()
	return must(t, "psql", e.Psql(t, db, sql))
}

// CreatePGDatabase creates a database named prefix plus a random suffix
// (extra is appended to CREATE DATABASE, e.g. "TEMPLATE template0
// LC_COLLATE 'C' LC_CTYPE 'C'") and drops it when the test ends.
func (e *Env) CreatePGDatabase(t testing.TB, prefix, extra string) string {
	t.Helper()
	db := Unique(prefix)
	e.MustPsql(t, "", fmt.Sprintf(`CREATE DATABASE %q %s;`, db, extra))
	t.Cleanup(func() {
		e.Psql(t, "", fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE);`, db))
	})
	return db
}

// ---- MariaDB ----

// MariaDBEnv is the environment for the mariadb clients as root over TCP
// (MYSQL_PWD, plus MARIADB_HOST/PORT/USER for scripts that read them);
// pass MariaDBArgs on the command line too.
func (e *Env) MariaDBEnv() map[string]string {
	return map[string]string{
		"MYSQL_PWD":    e.MariaDB.Password,
		"MARIADB_HOST": e.MariaDB.Host, "MARIADB_PORT": e.MariaDB.Port, "MARIADB_USER": e.MariaDB.User,
	}
}

// MariaDBArgs are the connection options for mariadb and mariadb-dump
// (utf8mb4: without a config file the client would talk utf8mb3).
func (e *Env) MariaDBArgs() []string {
	return []string{"--no-defaults", "--protocol=TCP", "-h", e.MariaDB.Host, "-P", e.MariaDB.Port, "-u", e.MariaDB.User,
		"--default-character-set=utf8mb4"}
}

// MariaDBCmd runs sql in database db ("" for none) with the mariadb client
// in batch mode without column names: one row per line, tab-separated.
func (e *Env) MariaDBCmd(t testing.TB, db, sql string) Result {
	t.Helper()
	args := append([]string{"mariadb"}, e.MariaDBArgs()...)
	args = append(args, "--batch", "--skip-column-names")
	if db != "" {
		args = append(args, db)
	}
	return Run(t, Cmd{Args: args, Env: e.MariaDBEnv(), Stdin: strings.NewReader(sql)})
}

// MustMariaDB is MariaDBCmd that fails the test on an error; it returns
// stdout.
func (e *Env) MustMariaDB(t testing.TB, db, sql string) string {
	t.Helper()
	return must(t, "mariadb", e.MariaDBCmd(t, db, sql))
}

// ---- Redis ----

// RedisEnv is the environment for redis-cli (REDISCLI_AUTH).
func (e *Env) RedisEnv() map[string]string {
	return map[string]string{"REDISCLI_AUTH": e.Redis.Password}
}

// RedisCLI runs redis-cli against the test server.
func (e *Env) RedisCLI(t testing.TB, args ...string) Result {
	t.Helper()
	return Run(t, Cmd{
		Args: append([]string{"redis-cli", "-h", e.Redis.Host, "-p", e.Redis.Port}, args...),
		Env:  e.RedisEnv(),
	})
}

// ---- LDAP ----

// LDAPSearch runs ldapsearch bound as the root DN, output in LDIF without
// comments (-LLL), e.g. LDAPSearch(t, e.LDAP.Base, "sub", "(objectClass=*)").
func (e *Env) LDAPSearch(t testing.TB, base, scope, filter string, attrs ...string) Result {
	t.Helper()
	args := append([]string{"ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", e.LDAP.URL,
		"-D", e.LDAP.RootDN, "-w", e.LDAP.Password, "-b", base, "-s", scope, filter}, attrs...)
	return Run(t, Cmd{Args: args})
}

// ---- S3 (rclone) ----

// RcloneEnv configures an rclone remote called remote (e.g. "s3", used as
// "s3:bucket/path") for the test S3 server through RCLONE_CONFIG_* variables.
func (e *Env) RcloneEnv(remote string) map[string]string {
	p := "RCLONE_CONFIG_" + strings.ToUpper(remote) + "_"
	return map[string]string{
		p + "TYPE":              "s3",
		p + "PROVIDER":          "Other",
		p + "ENDPOINT":          e.S3.Endpoint,
		p + "ACCESS_KEY_ID":     e.S3.AccessKey,
		p + "SECRET_ACCESS_KEY": e.S3.SecretKey,
		p + "REGION":            e.S3.Region,
		p + "FORCE_PATH_STYLE":  "true",
	}
}

// Rclone runs rclone with the remote "s3:" pointing at the test server and
// no config file.
func (e *Env) Rclone(t testing.TB, args ...string) Result {
	t.Helper()
	return Run(t, Cmd{
		Args: append([]string{"rclone", "--config", "/dev/null"}, args...),
		Env:  e.RcloneEnv("s3"),
	})
}

// MustRclone is Rclone that fails the test on an error; it returns stdout.
func (e *Env) MustRclone(t testing.TB, args ...string) string {
	t.Helper()
	return must(t, "rclone", e.Rclone(t, args...))
}

// CreateBucket creates an empty bucket named prefix plus a random suffix
// (prefix lowercase, letters, digits and '-') and returns its name.
func (e *Env) CreateBucket(t testing.TB, prefix string) string {
	t.Helper()
	b := Unique(prefix)
	e.MustRclone(t, "mkdir", "s3:"+b)
	return b
}

// ---- restic ----

// ResticEnv is the environment for restic with repository repo (e.g.
// "s3:"+e.S3.Endpoint+"/bucket/path") and password: the S3 keys, and a
// cache directory private to the test.
func (e *Env) ResticEnv(t testing.TB, repo, password string) map[string]string {
	t.Helper()
	return map[string]string{
		"RESTIC_REPOSITORY":     repo,
		"RESTIC_PASSWORD":       password,
		"RESTIC_CACHE_DIR":      t.TempDir(),
		"AWS_ACCESS_KEY_ID":     e.S3.AccessKey,
		"AWS_SECRET_ACCESS_KEY": e.S3.SecretKey,
		"AWS_DEFAULT_REGION":    e.S3.Region,
	}
}

// ResticRepo creates a bucket, initialises a restic repository in it and
// returns the environment (ResticEnv) to use it.
func (e *Env) ResticRepo(t testing.TB) map[string]string {
	t.Helper()
	bucket := e.CreateBucket(t, "restic-")
	env := e.ResticEnv(t, "s3:"+e.S3.Endpoint+"/"+bucket+"/repo", Unique("pw-"))
	e.MustRestic(t, env, "init")
	return env
}

// ResticCmd runs the pinned restic with env (see ResticEnv) and input on
// stdin ("" for none).
func (e *Env) ResticCmd(t testing.TB, env map[string]string, input string, args ...string) Result {
	t.Helper()
	return Run(t, Cmd{Args: append([]string{e.Restic}, args...), Env: env, Stdin: stdin(input)})
}

// MustRestic runs restic and fails the test unless it exits 0; it returns
// stdout.
func (e *Env) MustRestic(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	return must(t, "restic", e.ResticCmd(t, env, "", args...))
}

// Snapshot is the part of `restic snapshots --json` the tests look at.
type Snapshot struct {
	ID       string    `json:"id"`
	ShortID  string    `json:"short_id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Tags     []string  `json:"tags"`
	Paths    []string  `json:"paths"`
}

// Snapshots lists the repository's snapshots (extra: filters such as
// "--tag", "app=x" or "--host", "h").
func (e *Env) Snapshots(t testing.TB, env map[string]string, extra ...string) []Snapshot {
	t.Helper()
	out := e.MustRestic(t, env, append([]string{"snapshots", "--json"}, extra...)...)
	var s []Snapshot
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("restic snapshots --json: %v\n%s", err, out)
	}
	return s
}
