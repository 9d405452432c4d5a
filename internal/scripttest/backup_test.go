package scripttest

// What the generated scripts do today and must keep doing: failures stop
// the step and leave no snapshot, retention is what the policy says and
// touches nothing else, the maintenance unlocks first.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odbackup/odbackup/internal/scripttest/stubs"
)

// oxSite is a small site with a database of every kind that dumps into
// restic, and the ConfigMap export.
func oxSite(t testing.TB) []*Step {
	t.Helper()
	return testSite(t, "site-a", []string{"xwiki", "ox-appsuite", "migrations"}, `stores: {
	"ox-appsuite/redis/cache": backup: true
	"migrations/s3/migrations": backup: false
}
`)
}

// migrationsStatus is the ConfigMap openDesk's migrations keep their
// state in (what the configmap export reads).
const migrationsStatus = `apiVersion: v1
kind: ConfigMap
metadata:
  name: migrations-status
  namespace: opendesk
data:
  v1.18.0: done
`

// TestFailingDumpLeavesNoSnapshot: a dump that fails half-way (output cut,
// non-zero exit) fails its step, and the repository holds no snapshot of
// the store.
func TestFailingDumpLeavesNoSnapshot(t *testing.T) {
	t.Parallel()
	all := oxSite(t)
	for _, c := range []struct{ store, cue string }{
		{"xwiki/postgresql/xwiki", "pg_dump: fail"},
		{"ox-appsuite/mariadb/configdb", "mariadb-dump: fail 2"},
		{"ox-appsuite/redis/cache", "redis-cli: fail"},
		{"migrations/configmap/migrations-status", "kubectl get: fail"},
	} {
		t.Run(c.store, func(t *testing.T) {
			t.Parallel()
			sb := NewSandbox(t)
			sb.SetDatabases("configdb")
			sb.PutObject(migrationsStatus)
			step := backupStep(t, all, c.store, false)
			sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
			// The same step succeeds without the cue: the failure is the
			// dump's, not the test's.
			sb.MustRun(step, Opts{})
			before := len(snapshotsOf(sb, c.store))
			sb.Cue(c.cue)
			r := sb.Run(step, Opts{})
			if r.OK() {
				t.Fatalf("the step succeeded although %q:\n%s", c.cue, r)
			}
			if n := len(snapshotsOf(sb, c.store)); n != before {
				t.Errorf("the failed dump left a snapshot (%d before, %d after):\n%s", before, n, r)
			}
			if !strings.Contains(r.Stderr, "odbackup: restic backup into") {
				t.Errorf("stderr does not say the backup failed:\n%s", r)
			}
		})
	}
}

// TestWrongResticPassword: a repository the password does not open fails
// the step with a message that says so, before anything is dumped into it.
func TestWrongResticPassword(t *testing.T) {
	t.Parallel()
	all := oxSite(t)
	sb := NewSandbox(t)
	sb.InitRepo("the-real-password")
	r := sb.Run(backupStep(t, all, "xwiki/postgresql/xwiki", false), Opts{})
	if r.OK() {
		t.Fatalf("the step succeeded with a wrong password:\n%s", r)
	}
	if !strings.Contains(r.Stderr, "password does not open the repository") {
		t.Errorf("stderr does not name the password:\n%s", r)
	}
	if len(sb.Snapshots()) != 0 {
		t.Errorf("snapshots after a wrong password: %v", sb.Snapshots())
	}
}

// TestRepositoryThatHangs: a repository that never answers fails the step
// within ODBACKUP_REPOSITORY_TIMEOUT, and nothing is dumped.
func TestRepositoryThatHangs(t *testing.T) {
	t.Parallel()
	all := oxSite(t)
	sb := NewSandbox(t)
	step := backupStep(t, all, "xwiki/postgresql/xwiki", false)
	sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
	sb.Cue("restic cat: hang")
	// The stub hangs for an hour; the script must give up by itself after
	// 1 s (the minute is only a bound for a slow machine).
	r := sb.Run(step, Opts{Env: map[string]string{"ODBACKUP_REPOSITORY_TIMEOUT": "1"}, Timeout: time.Minute})
	if r.OK() || r.Err != nil {
		t.Fatalf("want the script to fail by itself:\n%s", r)
	}
	if !strings.Contains(r.Stderr, "gave no answer within 1 s") {
		t.Errorf("stderr does not say the repository gave no answer:\n%s", r)
	}
	if c := callsOf(r.Calls, "pg_dump"); len(c) != 0 {
		t.Errorf("pg_dump ran although the repository did not answer: %v", c)
	}
}

// retentionSite keeps Nextcloud's database 3 daily, 2 weekly, 1 monthly;
// XWiki's has the site's 5/4/6.
func retentionSite(t testing.TB, site string) []*Step {
	t.Helper()
	return testSite(t, site, []string{"xwiki", "nextcloud"}, `retention: {daily: 5, weekly: 4, monthly: 6}
stores: "nextcloud/postgresql/nextcloud": retention: {daily: 3, weekly: 2, monthly: 1}
`)
}

// TestRetentionFlags: the maintenance forgets each store with exactly the
// policy's retention, scoped by the site's host and the store's tag, keeping
// pre-upgrade snapshots out of that count; then it keeps only the newest
// pre-upgrade snapshot of each store.
func TestRetentionFlags(t *testing.T) {
	t.Parallel()
	all := retentionSite(t, "site-a")
	sb := NewSandbox(t)
	m := maintenance(t, all, "t")
	sb.InitRepo(secretOf(m, "RESTIC_PASSWORD"))
	r := sb.MustRun(m, Opts{})
	want := map[string][]string{
		"store=nextcloud/postgresql/nextcloud":             {"--keep-daily=3", "--keep-weekly=2", "--keep-monthly=1", "--keep-tag=pre-upgrade"},
		"store=xwiki/postgresql/xwiki":                     {"--keep-daily=5", "--keep-weekly=4", "--keep-monthly=6", "--keep-tag=pre-upgrade"},
		"store=nextcloud/postgresql/nextcloud,pre-upgrade": {"--keep-last=1"},
		"store=xwiki/postgresql/xwiki,pre-upgrade":         {"--keep-last=1"},
		// the off-site copy of XWiki's volume keeps the app's retention
		"store=xwiki/pvc/xwiki-data-xwiki-0":             {"--keep-daily=5", "--keep-weekly=4", "--keep-monthly=6", "--keep-tag=pre-upgrade"},
		"store=xwiki/pvc/xwiki-data-xwiki-0,pre-upgrade": {"--keep-last=1"},
	}
	forgets := callsOf(r.Calls, "restic", "forget")
	if len(forgets) != len(want) {
		t.Fatalf("want %d forget calls, got:\n%s", len(want), callLines(forgets))
	}
	for _, c := range forgets {
		a := stubs.ParseRestic(c.Args)
		tags := a.Flags["tag"]
		if len(tags) != 1 {
			t.Errorf("forget is not scoped by exactly one --tag: %s", c.Line())
			continue
		}
		keep, ok := want[tags[0]]
		if !ok {
			t.Errorf("forget of unexpected snapshots --tag=%s: %s", tags[0], c.Line())
			continue
		}
		if !slices.Equal(a.Flags["host"], []string{"site-a"}) {
			t.Errorf("forget is not scoped by exactly --host=site-a: %s", c.Line())
		}
		var got []string
		for _, f := range []string{"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly", "keep-within", "keep-tag"} {
			for _, v := range a.Flags[f] {
				got = append(got, "--"+f+"="+v)
			}
		}
		if !slices.Equal(got, keep) {
			t.Errorf("--tag=%s: retention %v, want %v", tags[0], got, keep)
		}
		delete(want, tags[0])
	}
}

// TestRetentionTouchesOnlyItsStore runs the maintenance of site A on a
// repository with two months of nightly snapshots of two stores of site
// A, of the same store of site B and a snapshot made by hand: each store
// keeps what its own retention says (GFS as restic counts it), site B's
// and the hand-made snapshot are untouched.
func TestRetentionTouchesOnlyItsStore(t *testing.T) {
	t.Parallel()
	all := retentionSite(t, "site-a")
	sb := NewSandbox(t)
	sb.InitRepo(SecretValue("restic", "password"))
	type group struct{ host, store, file string }
	nc := group{"site-a", "nextcloud/postgresql/nextcloud", "/nextcloud.pgdump"}
	xw := group{"site-a", "xwiki/postgresql/xwiki", "/xwiki.pgdump"}
	b := group{"site-b", "nextcloud/postgresql/nextcloud", "/nextcloud.pgdump"}
	start := time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)
	for d := range 60 { // 2025-01-01 .. 2025-03-01
		for _, g := range []group{nc, xw, b} {
			sb.Seed(stubs.Snapshot{Time: start.AddDate(0, 0, d), Hostname: g.host, Paths: []string{g.file},
				Tags: []string{"odbackup", "app=" + strings.Split(g.store, "/")[0], "store=" + g.store}},
				map[string][]byte{g.file: []byte(g.host + g.store)})
		}
	}
	sb.Seed(stubs.Snapshot{Time: start, Hostname: "site-a", Paths: []string{"/nextcloud.pgdump"}, Tags: []string{"manual"}},
		map[string][]byte{"/nextcloud.pgdump": []byte("by hand")})
	sb.MustRun(maintenance(t, all, "t"), Opts{})

	// Nextcloud (3/2/1): the dailies 03-01, 02-28, 02-27; the weeklies
	// 2025-W09 (03-01) and W08 (02-23); the monthly 2025-03 (03-01).
	// XWiki (5/4/6): dailies 03-01 .. 02-25; weeklies W09, W08 (02-23),
	// W07 (02-16), W06 (02-09); monthlies 2025-03, 2025-02 (02-28),
	// 2025-01 (01-31).
	want := map[string][]string{
		"site-a nextcloud/postgresql/nextcloud": {"02-23", "02-27", "02-28", "03-01"},
		"site-a xwiki/postgresql/xwiki":         {"01-31", "02-09", "02-16", "02-23", "02-25", "02-26", "02-27", "02-28", "03-01"},
	}
	got := map[string][]string{}
	for _, s := range sb.Snapshots() {
		key := s.Hostname + " " + s.Tag("store")
		if s.HasTag("manual") {
			key = s.Hostname + " manual"
		}
		got[key] = append(got[key], s.Time.Format("01-02"))
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s kept %v, want %v", k, got[k], w)
		}
	}
	if n := len(got["site-b nextcloud/postgresql/nextcloud"]); n != 60 {
		t.Errorf("site B kept %d of its 60 snapshots", n)
	}
	if n := len(got["site-a manual"]); n != 1 {
		t.Errorf("the snapshot made by hand is gone")
	}
}

// TestMaintenanceOrder: restic unlock (stale locks of killed runs) comes
// before every forget, prune after the last forget, check last.
func TestMaintenanceOrder(t *testing.T) {
	t.Parallel()
	for _, ex := range []string{"ce-school", "ee-full", "edu-university"} {
		all := example(t, ex)
		for _, m := range all {
			if m.Kind != "CronJob" || m.Annotations["odbackup.io/target"] == "" || m.Copy() {
				continue
			}
			t.Run(ex+"/"+m.Owner, func(t *testing.T) {
				sb := NewSandbox(t)
				sb.InitRepo(secretOf(m, "RESTIC_PASSWORD"))
				r := sb.MustRun(m, Opts{})
				var subs []string
				for _, c := range callsOf(r.Calls, "restic") {
					if a := stubs.ParseRestic(c.Args); a.Sub != "init" && a.Sub != "cat" {
						subs = append(subs, a.Sub)
					}
				}
				unlock, prune, check := slices.Index(subs, "unlock"), slices.Index(subs, "prune"), slices.Index(subs, "check")
				firstForget, lastForget := slices.Index(subs, "forget"), -1
				for i, sub := range subs {
					if sub == "forget" {
						lastForget = i
					}
				}
				if unlock < 0 || firstForget < 0 || prune < 0 || check < 0 ||
					!(unlock < firstForget && lastForget < prune && prune < check) {
					t.Errorf("restic calls in the wrong order (want unlock, forget..., prune, check): %v", subs)
				}
			})
		}
	}
}

// TestFailuresPropagate runs one step of every kind the examples have, and
// the restore Job of its store, first as it is (it must succeed), then once
// with each command it called failing: the step must fail every time. A
// producer that fails must leave no new snapshot.
// exportedSecretRE finds the Secret a secret store's step exports.
var exportedSecretRE = regexp.MustCompile(`get secret ([a-z0-9.-]+) --output=yaml`)

func mustScript(t *testing.T, step *Step) string {
	t.Helper()
	script, err := step.Script()
	if err != nil {
		t.Fatal(err)
	}
	return script
}

func TestFailuresPropagate(t *testing.T) {
	t.Parallel()
	// tolerated are calls whose failure a script handles on purpose.
	tolerated := map[string]string{
		// The archive pruning reads `rclone lsf` through a pipe into a
		// while loop: its failure is not seen (the sync before it is).
		"rclone lsf": "pipeline into while: archive pruning only",
		// The off-site copy prints the copy pod's log; the pod's phase
		// is its result.
		"kubectl logs": "the copy pod's log, shown only",
	}
	// A kind of step is the same code in every example: each runs once,
	// from the first example that has it.
	seen := map[string]bool{}
	for _, ex := range []string{"ee-full", "ce-school", "edu-university"} {
		all := example(t, ex)
		for _, step := range all {
			if step.Copy() || step.Kind == "Job" || step.Drill() {
				continue
			}
			kind := stepKind(step)
			if seen[kind] {
				continue
			}
			seen[kind] = true
			restore := restoreOf(all, step)
			t.Run(ex+"/"+kind, func(t *testing.T) {
				t.Parallel()
				sb := NewSandbox(t)
				sb.SetDatabases("configdb", "PRIMARYDB_1", "oxguard_1")
				sb.PutObject(migrationsStatus)
				// The Secret a secret store exports (the Dovecot Pro
				// crypt keys of ee-full) exists, as on a cluster.
				if m := exportedSecretRE.FindStringSubmatch(mustScript(t, step)); m != nil {
					sb.PutObject(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: opendesk\ndata:\n  key: dmFsdWU=\n", m[1]))
				}
				sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
				if step.Offsite() {
					offsiteObjects(t, sb, step)
				}
				ok := sb.MustRun(step, Opts{})
				for _, key := range callKeys(ok.Calls) {
					if _, skip := tolerated[key]; skip {
						continue
					}
					sb.ClearCues()
					before := len(sb.Snapshots())
					sb.Cue(key + ": fail")
					r := sb.Run(step, Opts{})
					if r.OK() {
						t.Errorf("%s: the step succeeded although %s failed:\n%s", step.Name, key, r)
					}
					if producer(key) && len(sb.Snapshots()) != before {
						t.Errorf("%s: a snapshot was saved although %s failed", step.Name, key)
					}
				}
				sb.ClearCues()
				if restore == nil {
					return
				}
				sb.MustRun(step, Opts{})
				ok = sb.MustRun(restore, Opts{Secrets: map[string]string{}})
				for _, key := range callKeys(ok.Calls) {
					sb.ClearCues()
					sb.Cue(key + ": fail")
					if r := sb.Run(restore, Opts{}); r.OK() {
						t.Errorf("%s: the restore succeeded although %s failed:\n%s", restore.File, key, r)
					}
				}
			})
		}
	}
}

// stepKind is the kind of a step: its header comment without the store
// ("PostgreSQL database", "CSI snapshot of PVC", "restic maintenance").
func stepKind(s *Step) string {
	script, _ := s.Script()
	for _, l := range strings.Split(script, "\n") {
		if h, ok := strings.CutPrefix(l, "# odbackup: "); ok {
			f := strings.Fields(h)
			return strings.Join(f[:min(2, len(f))], " ")
		}
	}
	return s.Name
}

// restoreOf is the restore Job of a backup step's store that streams from
// restic or the bucket mirror (nil for CSI snapshots and Redis, whose
// restores need a cluster's claims).
func restoreOf(all []*Step, backup *Step) *Step {
	id := backup.StoreID()
	if id == "" || strings.Contains(id, "/pvc/") && !strings.HasPrefix(backup.Name, "export-") || strings.Contains(id, "/redis/") {
		return nil
	}
	for _, s := range all {
		if s.Kind != "Job" || s.Copy() || s.Annotations["odbackup.io/store-id"] != id {
			continue
		}
		if strings.HasPrefix(backup.Name, "export-") != (s.Annotations["odbackup.io/method"] == "exec-export") {
			continue
		}
		return s
	}
	return nil
}

// callKeys are the distinct "CMD SUBCOMMAND" of calls (kubectl's verb,
// restic's and rclone's subcommand; the command alone for the others).
func callKeys(calls []stubs.Call) []string {
	var out []string
	for _, c := range calls {
		key := c.Cmd
		switch c.Cmd {
		case "restic":
			key += " " + stubs.ParseRestic(c.Args).Sub
		case "kubectl":
			key += " " + stubs.ParseKubectl(c.Args).Verb
		case "rclone":
			if len(c.Args) > 0 {
				key += " " + c.Args[0]
			}
		}
		if !slices.Contains(out, key) {
			out = append(out, key)
		}
	}
	return out
}

// producer reports whether a failing call of key means the data to back
// up is incomplete.
func producer(key string) bool {
	switch key {
	case "pg_dump", "mariadb-dump", "slapcat", "redis-cli", "kubectl exec", "kubectl get":
		return true
	}
	return false
}

// secretOf is the default test value of the Secret variable name of step.
func secretOf(step *Step, name string) string {
	for _, v := range step.Container.Env {
		if v.Name == name && v.ValueFrom != nil && v.ValueFrom.SecretKeyRef != nil {
			return SecretValue(v.ValueFrom.SecretKeyRef.Name, v.ValueFrom.SecretKeyRef.Key)
		}
	}
	return fmt.Sprintf("no-%s", name)
}

// TestCSISnapshotReadyBeforePrune: the CSI step waits until its snapshot
// is ready to use before it prunes older ones, and prunes to
// snapshot.keep (3), oldest first, never another store's snapshot.
func TestCSISnapshotReadyBeforePrune(t *testing.T) {
	step := csiStep(t)
	sb := NewSandbox(t)
	for d := 1; d <= 4; d++ {
		sb.PutObject(volumeSnapshot(t, step, fmt.Sprintf("old-%d", d), d, true))
	}
	other := strings.Replace(volumeSnapshot(t, step, "other-store", 1, true), "odbackup.io/store: ", "odbackup.io/store: other-", 1)
	sb.PutObject(other)
	r := sb.MustRun(step, Opts{})
	var verbs []string
	for _, c := range callsOf(r.Calls, "kubectl") {
		verbs = append(verbs, stubs.ParseKubectl(c.Args).Verb)
	}
	if !slices.Equal(verbs, []string{"create", "wait", "get", "delete"}) {
		t.Errorf("kubectl calls %v, want create, wait, get, delete:\n%s", verbs, r)
	}
	got := snapshotNames(sb)
	if len(got) != 4 || got[0] != "old-3 ready=true" || got[1] != "old-4 ready=true" || got[2] != "other-store ready=true" || !strings.HasSuffix(got[3], "ready=true") {
		t.Errorf("after the run the snapshots are\n  %s\nwant old-3, old-4, the other store's and tonight's, all ready", strings.Join(got, "\n  "))
	}
}
