package scripttest

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/internal/scripttest/stubs"
)

// appendOnlySite is oxSite with maintenance credentials of its own for
// target t: Secret s3-maintenance, under the keys of s3Credentials.
func appendOnlySite(t testing.TB) []*Step {
	t.Helper()
	return testSite(t, "site-a", []string{"xwiki", "ox-appsuite", "migrations"}, `stores: {
	"ox-appsuite/redis/cache": backup: true
	"migrations/s3/migrations": backup: false
}
targets: t: restic: maintenance: credentialsSecret: "s3-maintenance"
retention: {daily: 1, weekly: 0, monthly: 0}
`)
}

// TestAppendOnlyBackupCredentials: with restic.maintenance, the backups'
// own key may be append-only (the server refuses it every delete but of
// locks/: an S3 policy, rest-server --append-only; the restic stub plays
// that server, see stubs.AppendOnlyFile). Every backup job of the site
// still succeeds with it and stores its snapshots, and a restore lists
// them with it; the maintenance, which forgets and prunes, succeeds with
// its own key; and the maintenance run with the backups' key fails loudly
// and deletes nothing, as it would on such a server.
func TestAppendOnlyBackupCredentials(t *testing.T) {
	t.Parallel()
	all := appendOnlySite(t)
	sb := NewSandbox(t)
	sb.SetDatabases("configdb", "PRIMARYDB_1", "oxguard_1")
	sb.PutObject(migrationsStatus)
	// XWiki's volume goes off-site through a copy Pod (the kubectl stub
	// runs its script with its own environment).
	sb.PutObject(sourceClaim)
	clone := filepath.Join(sb.State, stubs.CloneDir)
	if err := os.MkdirAll(clone, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clone, "a.txt"), []byte("attachment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	backupKey := SecretValue("s3", "id")
	if err := os.WriteFile(filepath.Join(sb.State, stubs.AppendOnlyFile), []byte(backupKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := maintenance(t, all, "t")
	sb.InitRepo(secretOf(m, "RESTIC_PASSWORD"))
	if got := secretOf(m, "AWS_ACCESS_KEY_ID"); got != SecretValue("s3-maintenance", "id") {
		t.Fatalf("the maintenance's key is %s, want the one of Secret s3-maintenance", got)
	}

	files, drills := map[string]bool{}, map[string]bool{}
	for _, s := range all {
		if s.Kind == "CronJob" && s.Annotations["odbackup.io/target"] == "" {
			files[s.File] = true
			if s.Drill() {
				drills[s.File] = true
			}
		}
	}
	for f := range drills {
		delete(files, f)
	}
	if len(files) == 0 {
		t.Fatal("no backup jobs")
	}
	// Two runs of every backup job: the maintenance (one daily snapshot)
	// has one of each store's to forget.
	for night := 1; night <= 2; night++ {
		sb.SetNight(night)
		for _, file := range slices.Sorted(maps.Keys(files)) {
			steps := job(all, file)
			for _, s := range steps {
				for _, e := range s.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "s3-maintenance" {
						t.Errorf("%s/%s reads the maintenance's Secret (%s)", file, s.Name, e.Name)
					}
				}
			}
			if rs, ok := sb.RunJob(steps, Opts{}); !ok {
				var b strings.Builder
				for _, r := range rs {
					b.WriteString(r.String())
				}
				t.Fatalf("run %d: %s fails with append-only backup credentials:\n%s", night, file, b.String())
			}
		}
	}
	// The drills fetch the newest backups with the backups' key (their
	// scratch servers, which need a real PostgreSQL and MariaDB, are
	// drill_test.go's and e2e's business).
	if len(drills) == 0 {
		t.Fatal("no drills")
	}
	for _, file := range slices.Sorted(maps.Keys(drills)) {
		for _, st := range job(all, file) {
			if !st.Drill() || st.Copy() {
				continue
			}
			if script, _ := st.Script(); !strings.Contains(script, "restic dump") {
				continue
			}
			// A drill that needs no server (the off-site copy's) passes
			// here; the others get as far as their fetch.
			r := sb.Run(st, Opts{})
			if !r.OK() && !strings.Contains(r.Stdout, "restored from the newest snapshot") {
				t.Errorf("%s/%s: the drill could not fetch the newest backup with append-only backup credentials:\n%s", file, st.Name, r)
			}
		}
	}
	before := len(sb.Snapshots())
	if before == 0 {
		t.Fatal("the backups stored no snapshot")
	}
	// (The stub refused every deleting call of the backups above, so a
	// backup that ran one has failed the test already.)

	// A restore reads the newest backup with the backups' key.
	rs := restoreStep(t, all, "ox-appsuite/mariadb/configdb", "mariadb-dump")
	if secretOf(rs, "AWS_ACCESS_KEY_ID") != backupKey {
		t.Errorf("the restore does not use the backups' key")
	}
	r := sb.MustRun(rs, Opts{Env: map[string]string{"ODBACKUP_SNAPSHOT": "latest"}})
	if len(callsOf(r.Calls, "restic", "dump")) == 0 {
		t.Errorf("the restore read nothing from restic:\n%s", r)
	}

	// The maintenance with the backups' key (a wrong Secret): restic
	// forget removes nothing and exits 0, the script fails saying why.
	wrong := sb.Run(m, Opts{Secrets: map[string]string{"s3-maintenance/id": backupKey}})
	if wrong.OK() {
		t.Fatalf("the maintenance succeeded with append-only credentials:\n%s", wrong)
	}
	if !strings.Contains(wrong.Stderr, "odbackup: restic forget could not remove the snapshots it forgot") {
		t.Errorf("stderr does not say that forget removed nothing:\n%s", wrong)
	}
	if n := len(sb.Snapshots()); n != before {
		t.Errorf("%d snapshots before, %d after the refused maintenance", before, n)
	}
	// With its own key it forgets and prunes.
	ok := sb.MustRun(m, Opts{})
	if len(callsOf(ok.Calls, "restic", "prune")) != 1 {
		t.Errorf("the maintenance did not prune:\n%s", ok)
	}
	if n := len(sb.Snapshots()); n >= before {
		t.Errorf("%d snapshots before, %d after the maintenance: it forgot nothing", before, n)
	}
}
