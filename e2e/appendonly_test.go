package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// policyS3 is a versitygw of the test's own (the suite's has no IAM): an
// internal IAM directory, a root key, and the admin API, so that the test
// can create users and give a bucket a policy.
type policyS3 struct {
	Endpoint, Admin, Region string
	Root, RootSecret        string
}

// freeAddr is a 127.0.0.1 address nothing listens on just now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startPolicyS3 starts versitygw (the suite's binary, posix backend) with
// an internal IAM; it stops when the test ends.
func startPolicyS3(t testing.TB, e *Env) *policyS3 {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"data", "iam"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &policyS3{Endpoint: "http://" + freeAddr(t), Admin: "http://" + freeAddr(t), Region: e.S3.Region,
		Root: Unique("root"), RootSecret: Unique("rootsecret-")}
	log, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.Versitygw, "--quiet", "--access", s.Root, "--secret", s.RootSecret, "--region", s.Region,
		"--port", strings.TrimPrefix(s.Endpoint, "http://"), "--admin-port", strings.TrimPrefix(s.Admin, "http://"),
		"--iam-dir", filepath.Join(dir, "iam"), "posix", filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Any HTTP answer (an anonymous request is refused) means it serves.
		if resp, err := http.Get(s.Endpoint + "/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(log.Name())
			t.Fatalf("versitygw did not answer within 30 s:\n%s", data)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// CreateUser adds an IAM account of role "user": it may do what bucket
// policies grant it, nothing else.
func (s *policyS3) CreateUser(t testing.TB, e *Env, access, secret string) {
	t.Helper()
	MustRun(t, Cmd{Args: []string{e.Versitygw, "admin", "--access", s.Root, "--secret", s.RootSecret, "--endpoint-url", s.Admin,
		"create-user", "--access", access, "--secret", secret, "--role", "user"}})
}

// RootRequest is a request as the root account, signed by curl (--aws-sigv4).
// An empty-valued sub-resource is written "?policy=": curl 7.88 signs
// "?policy" as "policy" where S3 expects "policy=".
func (s *policyS3) RootRequest(t testing.TB, method, path string, body []byte) Result {
	t.Helper()
	sum := sha256.Sum256(body)
	args := []string{"curl", "-sS", "--fail-with-body", "-X", method, "--aws-sigv4", "aws:amz:" + s.Region + ":s3",
		"--user", s.Root + ":" + s.RootSecret, "-H", "x-amz-content-sha256: " + hex.EncodeToString(sum[:])}
	var c Cmd
	if body != nil {
		args = append(args, "--data-binary", "@-")
		c.Stdin = strings.NewReader(string(body))
	}
	c.Args = append(args, s.Endpoint+path)
	c.Desc = "curl (signed as root) -X " + method + " " + s.Endpoint + path
	return Run(t, c)
}

// appendOnlyPolicy is README's bucket policy (section "Backup credentials
// that cannot delete backups") for bucket, repository prefix prefix, the
// backups' user backup and the maintenance's user maint.
func appendOnlyPolicy(bucket, prefix, backup, maint string) string {
	return fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "BackupsList", "Effect": "Allow", "Principal": {"AWS": ["%[3]s"]},
     "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
     "Resource": ["arn:aws:s3:::%[1]s"]},
    {"Sid": "BackupsReadWrite", "Effect": "Allow", "Principal": {"AWS": ["%[3]s"]},
     "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": ["arn:aws:s3:::%[1]s/%[2]s/*"]},
    {"Sid": "BackupsRemoveTheirLocks", "Effect": "Allow", "Principal": {"AWS": ["%[3]s"]},
     "Action": ["s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::%[1]s/%[2]s/locks/*"]},
    {"Sid": "Maintenance", "Effect": "Allow", "Principal": {"AWS": ["%[4]s"]},
     "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::%[1]s", "arn:aws:s3:::%[1]s/%[2]s/*"]}
  ]
}
`, bucket, prefix, backup, maint)
}

// TestAppendOnlyS3Credentials: a target with maintenance credentials of
// its own, on an S3 server whose bucket policy lets the backups' key
// delete nothing but restic's locks/ (README's policy). The repository's
// init Job (maintenance key) creates it; the generated backup succeeds
// twice with the append-only key and leaves no lock behind; with that key,
// restic forget --prune removes no snapshot (restic 0.18.1 says so and
// exits 0) and prune deletes no pack (it fails); the generated maintenance
// run with the backups' key by mistake fails and says why; with its own
// key it forgets and prunes.
func TestAppendOnlyS3Credentials(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	s3 := startPolicyS3(t, e)
	backupKey, backupSecret := Unique("backup"), Unique("backupsecret-")
	maintKey, maintSecret := Unique("maint"), Unique("maintsecret-")
	s3.CreateUser(t, e, backupKey, backupSecret)
	s3.CreateUser(t, e, maintKey, maintSecret)
	bucket := Unique("backups-")
	must(t, "creating the bucket", s3.RootRequest(t, "PUT", "/"+bucket, nil))
	must(t, "putting the bucket policy", s3.RootRequest(t, "PUT", "/"+bucket+"?policy=", []byte(appendOnlyPolicy(bucket, "restic", backupKey, maintKey))))

	const store = nextcloudDatabase
	db := Unique("nextcloud_")
	s := e.BuildSite(t, SiteSpec{
		Apps:      []string{"nextcloud"},
		Repo:      "s3:" + s3.Endpoint + "/" + bucket + "/restic",
		NewTarget: true,
		Policy: fmt.Sprintf(`stores: %q: {
	connection: database: %q
	retention: {daily: 1, weekly: 0, monthly: 0}
}
targets: e2e: restic: maintenance: credentialsSecret: "odbackup-s3-maintenance"
`, store, db),
	})
	s.Secrets["odbackup-s3/accessKeyID"], s.Secrets["odbackup-s3/secretAccessKey"] = backupKey, backupSecret
	s.Secrets["odbackup-s3-maintenance/accessKeyID"], s.Secrets["odbackup-s3-maintenance/secretAccessKey"] = maintKey, maintSecret
	repoAs := func(key, secret string) map[string]string {
		env := s.RepoEnv(t)
		env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = key, secret
		return env
	}
	backupEnv, maintEnv := repoAs(backupKey, backupSecret), repoAs(maintKey, maintSecret)

	// The repository, by the init Job, with the maintenance's key.
	init := s.RepositoryInit(t)
	if got := init.SecretRef(t, "AWS_ACCESS_KEY_ID"); got != "odbackup-s3-maintenance/accessKeyID" {
		t.Fatalf("the init Job opens the repository with the key of %s, want the maintenance's", got)
	}
	init.MustRun(t, nil)

	// Two backups with the append-only key.
	backup := pgApp(t, e, s, store, "nextcloud_user", db, "CREATE TABLE t (v text); INSERT INTO t VALUES ('first');")
	if got := backup.SecretRef(t, "AWS_ACCESS_KEY_ID"); got != "odbackup-s3/accessKeyID" {
		t.Fatalf("the backup writes with the key of %s, want the backups' own", got)
	}
	backup.MustRun(t, nil)
	waitNextSecond()
	backup.MustRun(t, nil)
	if n := len(s.e.Snapshots(t, maintEnv)); n != 2 {
		t.Fatalf("%d snapshots after two backups, want 2", n)
	}
	if locks := strings.TrimSpace(e.MustRestic(t, maintEnv, "list", "locks", "--no-lock")); locks != "" {
		t.Errorf("the backups left locks behind (they may delete locks/): %s", locks)
	}

	// The backups' key deletes nothing.
	r := e.ResticCmd(t, backupEnv, "", "forget", "--host", s.Name, "--keep-last", "1", "--prune")
	if !strings.Contains(r.Stderr, "unable to remove snapshot/") {
		t.Errorf("restic forget with the backups' key did not report a refused delete:\n%s", r)
	}
	if n := len(s.e.Snapshots(t, maintEnv)); n != 2 {
		t.Fatalf("the backups' key removed snapshots: %d left of 2", n)
	}
	// Packs neither: the maintenance's key forgets one snapshot without
	// pruning, then prune with the backups' key fails.
	snaps := s.e.Snapshots(t, maintEnv)
	e.MustRestic(t, maintEnv, "forget", snaps[0].ID)
	if r := e.ResticCmd(t, backupEnv, "", "prune"); r.OK() || !strings.Contains(r.Stderr, "Access Denied") {
		t.Errorf("restic prune with the backups' key did not fail on a refused delete:\n%s", r)
	}
	backup.MustRun(t, nil) // back to two snapshots

	// The generated maintenance with the backups' key by mistake.
	m := s.Maintenance(t)
	if got := m.SecretRef(t, "AWS_ACCESS_KEY_ID"); got != "odbackup-s3-maintenance/accessKeyID" {
		t.Fatalf("the maintenance opens the repository with the key of %s, want its own", got)
	}
	before := len(s.e.Snapshots(t, maintEnv))
	wrong := m.Run(t, map[string]string{"AWS_ACCESS_KEY_ID": backupKey, "AWS_SECRET_ACCESS_KEY": backupSecret})
	if wrong.OK() || !strings.Contains(wrong.Stderr, "odbackup: restic forget could not remove the snapshots it forgot") {
		t.Errorf("the maintenance with the backups' key did not fail saying why:\n%s", wrong)
	}
	if n := len(s.e.Snapshots(t, maintEnv)); n != before {
		t.Errorf("%d snapshots before, %d after the refused maintenance", before, n)
	}
	// With its own key: one daily snapshot stays, prune and check pass.
	m.MustRun(t, nil)
	if n := len(s.e.Snapshots(t, maintEnv)); n != 1 {
		t.Errorf("%d snapshots after the maintenance (daily: 1), want 1", n)
	}
}
