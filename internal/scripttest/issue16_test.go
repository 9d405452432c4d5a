package scripttest

// The silent failures of issue 16 (items 1-4 and A): each test failed
// against the scripts before its fix.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestExecExportCutShort (issue 16 item 1): slapcat and the Cassandra tar
// reach restic through kubectl exec, which can end a stream early with
// exit 0. An export that is cut short or empty must fail the job and leave
// no snapshot.
func TestExecExportCutShort(t *testing.T) {
	t.Parallel()
	all := example(t, "ee-full")
	for _, c := range []struct {
		name, store string
		export      bool
		cue         string
		// why is the reason the step's last line gives, where one is pinned.
		why string
	}{
		{"slapcat short", "nubus/pvc/shared-data-ums-ldap-server-primary-0", true, "slapcat: short", ""},
		// slapcat printing nothing still leaves the recorded schema's
		// comment lines in the stream: an LDIF without entries.
		{"slapcat empty", "nubus/pvc/shared-data-ums-ldap-server-primary-0", true, "slapcat: empty", "odbackup: the export holds no entries; nothing is stored"},
		{"cassandra tar short", "dovecot/cassandra/dovecot_acl", false, "kubectl exec: short", ""},
		{"cassandra tar empty", "dovecot/cassandra/dovecot_acl", false, "kubectl exec: empty", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			step := backupStep(t, all, c.store, c.export)
			sb := NewSandbox(t)
			sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
			sb.MustRun(step, Opts{}) // a complete export works
			before := len(snapshotsOf(sb, c.store))
			sb.Cue(c.cue)
			r := sb.Run(step, Opts{})
			if r.OK() {
				t.Errorf("the step succeeded with an export cut short (%s):\n%s", c.cue, r)
			}
			if c.why != "" && !strings.Contains(r.Stderr, c.why) {
				t.Errorf("the step does not say %q:\n%s", c.why, r)
			}
			if n := len(snapshotsOf(sb, c.store)); n != before {
				t.Errorf("the incomplete export left a snapshot (%d before, %d after)", before, n)
			}
		})
	}
}

// oxJob is the ox-appsuite backup job of the ee-full example.
func oxJob(t *testing.T) ([]*Step, []*Step) {
	t.Helper()
	all := example(t, "ee-full")
	return all, job(all, backupStep(t, all, "ox-appsuite/mariadb/configdb", false).File)
}

// TestMariaDBWildcardMatchesNothing (issue 16 item 2): PRIMARYDB_* or
// oxguard* matching no database (lost privileges, a wrong host, a renamed
// prefix) must fail the step, not back up nothing with a green job.
func TestMariaDBWildcardMatchesNothing(t *testing.T) {
	t.Parallel()
	all := example(t, "ee-full")
	for _, store := range []string{"ox-appsuite/mariadb/PRIMARYDB_*", "ox-appsuite/mariadb/oxguard*"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			sb := NewSandbox(t)
			sb.SetDatabases("configdb", "mysql")
			r := sb.Run(backupStep(t, all, store, false), Opts{})
			if r.OK() {
				t.Errorf("the step succeeded although no database matches:\n%s", r)
			}
		})
	}
}

// TestOneFailingDatabaseDoesNotStopOthers (issue 16 item 3): a MariaDB
// database that fails to dump must not stop the others, nor the job's
// later steps (oxguard, Redis, S3); the job fails at the end naming every
// store that failed (here PRIMARYDB_2 of PRIMARYDB_*, and configdb).
func TestOneFailingDatabaseDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	all, steps := oxJob(t)
	sb := NewSandbox(t)
	sb.InitRepo(secretOf(backupStep(t, all, "ox-appsuite/mariadb/configdb", false), "RESTIC_PASSWORD"))
	sb.SetDatabases("configdb", "PRIMARYDB_1", "PRIMARYDB_2", "PRIMARYDB_3", "oxguard_1")
	sb.Cue("mariadb-dump PRIMARYDB_2: fail", "mariadb-dump configdb: fail")
	results, ok := sb.RunJob(steps, Opts{})
	var out strings.Builder
	for _, r := range results {
		out.WriteString(r.String())
	}
	if ok {
		t.Errorf("the job succeeded although PRIMARYDB_2 and configdb failed:\n%s", out.String())
	}
	dumped := map[string]bool{}
	for _, s := range sb.Snapshots() {
		dumped[s.Tag("database")] = true
		dumped[s.Tag("store")] = true
	}
	for _, want := range []string{"PRIMARYDB_1", "PRIMARYDB_3", "oxguard_1", "ox-appsuite/redis/cache"} {
		if !dumped[want] {
			t.Errorf("%s was not backed up after PRIMARYDB_2 and configdb failed", want)
		}
	}
	if len(callsOf(sb.Calls(), "rclone", "sync")) == 0 {
		t.Errorf("the S3 mirror did not run after PRIMARYDB_2 and configdb failed")
	}
	// The job's end says which stores failed: the log of its last step.
	last := ""
	if len(results) > 0 {
		last = results[len(results)-1].Stdout + results[len(results)-1].Stderr
	}
	for _, store := range []string{"ox-appsuite/mariadb/PRIMARYDB_*", "ox-appsuite/mariadb/configdb"} {
		if !strings.Contains(last, store) {
			t.Errorf("the job's last step does not name the failed store %s:\n%s", store, out.String())
		}
	}
}

// TestWildcardRestoreOneRun (issue 16 item 4): restoring PRIMARYDB_* must
// restore one run's set of databases: the newest run, and only the
// databases it contained (not a database dropped since, from an older
// night).
func TestWildcardRestoreOneRun(t *testing.T) {
	t.Parallel()
	all := example(t, "ee-full")
	const store = "ox-appsuite/mariadb/PRIMARYDB_*"
	backup := backupStep(t, all, store, false)
	sb := NewSandbox(t)
	sb.InitRepo(secretOf(backup, "RESTIC_PASSWORD"))
	sb.SetNight(1)
	sb.SetDatabases("PRIMARYDB_1", "PRIMARYDB_2", "PRIMARYDB_3")
	sb.MustRun(backup, Opts{})
	time.Sleep(10 * time.Millisecond)
	sb.SetNight(2)
	sb.SetDatabases("PRIMARYDB_1", "PRIMARYDB_2") // PRIMARYDB_3 was dropped
	sb.MustRun(backup, Opts{})

	r := sb.MustRun(restoreStep(t, all, store, "mariadb-dump"), Opts{Env: map[string]string{"ODBACKUP_SNAPSHOT": "latest"}})
	var restored []string
	for _, c := range callsOf(r.Calls, "mariadb") {
		if c.Stdin == "" {
			continue
		}
		in := sb.Stdin(c)
		restored = append(restored, firstLine(in))
	}
	slices.Sort(restored)
	want := []string{
		"-- MariaDB dump 10.19  Database: PRIMARYDB_1 night 2",
		"-- MariaDB dump 10.19  Database: PRIMARYDB_2 night 2",
	}
	if !slices.Equal(restored, want) {
		t.Errorf("restored\n  %s\nwant\n  %s", strings.Join(restored, "\n  "), strings.Join(want, "\n  "))
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// csiStep is the CSI snapshot step of a small site keeping 3 snapshots.
func csiStep(t *testing.T) *Step {
	t.Helper()
	all := testSite(t, "site-a", []string{"xwiki"}, "")
	return backupStep(t, all, "xwiki/pvc/xwiki-data-xwiki-0", false)
}

// volumeSnapshot is a VolumeSnapshot of the step's store, made at day
// (of January 2026), ready or not.
func volumeSnapshot(t *testing.T, step *Step, name string, day int, ready bool) string {
	t.Helper()
	script, _ := step.Script()
	label := regexpFind(t, `odbackup\.io/store: (\S+)`, script)
	return fmt.Sprintf(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: %s
  creationTimestamp: "2026-01-%02dT02:00:00Z"
  labels:
    odbackup.io/store: %s
spec:
  source:
    persistentVolumeClaimName: xwiki-data-xwiki-0
status:
  readyToUse: %v
`, name, day, label, ready)
}

// snapshotNames lists the sandbox's VolumeSnapshots: name and readiness.
func snapshotNames(sb *Sandbox) []string {
	var out []string
	for _, o := range sb.Objects("volumesnapshot") {
		md := o["metadata"].(map[string]any)
		ready := false
		if st, ok := o["status"].(map[string]any); ok {
			ready, _ = st["readyToUse"].(bool)
		}
		out = append(out, fmt.Sprintf("%s ready=%v", md["name"], ready))
	}
	slices.Sort(out)
	return out
}

// TestCSIPruneCountsOnlyReady (issue 16 item A): with older ready
// snapshots and newer ones of failed runs that never became ready, the
// prune must keep the newest ready ones up to snapshot.keep (3), however
// many broken ones there are.
func TestCSIPruneCountsOnlyReady(t *testing.T) {
	step := csiStep(t)
	sb := NewSandbox(t)
	sb.PutObject(volumeSnapshot(t, step, "good-1", 1, true))
	sb.PutObject(volumeSnapshot(t, step, "good-2", 2, true))
	for d := 3; d <= 10; d++ {
		sb.PutObject(volumeSnapshot(t, step, fmt.Sprintf("broken-%d", d), d, false))
	}
	r := sb.MustRun(step, Opts{})
	var ready []string
	for _, n := range snapshotNames(sb) {
		if strings.HasSuffix(n, "ready=true") {
			ready = append(ready, n)
		}
	}
	if len(ready) != 3 || !slices.Contains(ready, "good-1 ready=true") || !slices.Contains(ready, "good-2 ready=true") {
		t.Errorf("want the 2 older ready snapshots and the new one kept (keep: 3); have\n  %s\n%s", strings.Join(snapshotNames(sb), "\n  "), r)
	}
}

// TestCSIFailedRunDeletesItsSnapshot (issue 16 item A): a run whose
// snapshot never becomes ready deletes the snapshot it created.
func TestCSIFailedRunDeletesItsSnapshot(t *testing.T) {
	step := csiStep(t)
	sb := NewSandbox(t)
	sb.PutObject(volumeSnapshot(t, step, "good-1", 1, true))
	sb.Cue("kubectl wait: fail")
	r := sb.Run(step, Opts{})
	if r.OK() {
		t.Fatalf("the step succeeded although its snapshot never became ready:\n%s", r)
	}
	if got := snapshotNames(sb); !slices.Equal(got, []string{"good-1 ready=true"}) {
		t.Errorf("after the failed run the snapshots are\n  %s\nwant only good-1", strings.Join(got, "\n  "))
	}
}
