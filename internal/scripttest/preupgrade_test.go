package scripttest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/odbackup/odbackup/internal/scripttest/stubs"
)

// preUpgradeStep is the pre-upgrade Job's step that backs up storeID.
func preUpgradeStep(t testing.TB, all []*Step, storeID string) *Step {
	t.Helper()
	for _, s := range all {
		if strings.HasPrefix(s.File, "pre-upgrade/") && !s.Copy() && s.StoreID() == storeID {
			return s
		}
	}
	t.Fatalf("no pre-upgrade step backs up %s", storeID)
	return nil
}

// TestPreUpgradeJobTagsItsSnapshot: the pre-upgrade Job's snapshot carries
// pre-upgrade and the release it upgrades from, on top of the store's tags,
// so the rollback finds it and the maintenance keeps it.
func TestPreUpgradeJobTagsItsSnapshot(t *testing.T) {
	t.Parallel()
	all := retentionSite(t, "site-a")
	step := preUpgradeStep(t, all, "xwiki/postgresql/xwiki")
	sb := NewSandbox(t)
	sb.InitRepo(SecretValue("restic", "password"))
	sb.MustRun(step, Opts{})
	snaps := sb.Snapshots()
	if len(snaps) != 1 {
		t.Fatalf("want one snapshot, got %d", len(snaps))
	}
	s := snaps[0]
	if !s.HasTag("pre-upgrade") || s.Tag("from") != "v1.18.1" || s.Tag("store") != "xwiki/postgresql/xwiki" || s.Hostname != "site-a" {
		t.Errorf("the pre-upgrade snapshot has host %s and tags %v", s.Hostname, s.Tags)
	}
	// The CronJob's own run is not tagged so.
	sb2 := NewSandbox(t)
	sb2.InitRepo(SecretValue("restic", "password"))
	sb2.MustRun(backupStep(t, all, "xwiki/postgresql/xwiki", false), Opts{})
	if s := sb2.Snapshots(); len(s) != 1 || s[0].HasTag("pre-upgrade") {
		t.Errorf("a nightly snapshot is tagged pre-upgrade: %v", s)
	}
}

// TestPreUpgradeSnapshotKeptUntilTheNext: after two months of nights and
// two upgrades, the maintenance keeps the GFS set as before, plus the newest
// pre-upgrade snapshot of the store, however old; the older one goes.
func TestPreUpgradeSnapshotKeptUntilTheNext(t *testing.T) {
	t.Parallel()
	all := retentionSite(t, "site-a")
	sb := NewSandbox(t)
	sb.InitRepo(SecretValue("restic", "password"))
	const store, file = "nextcloud/postgresql/nextcloud", "/nextcloud.pgdump"
	tags := []string{"odbackup", "app=nextcloud", "store=" + store}
	start := time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)
	for d := range 60 {
		sb.Seed(stubs.Snapshot{Time: start.AddDate(0, 0, d), Hostname: "site-a", Paths: []string{file}, Tags: tags},
			map[string][]byte{file: []byte("night")})
	}
	for _, d := range []int{5, 20} { // upgrades on 01-06 and 01-21, at noon
		sb.Seed(stubs.Snapshot{Time: start.AddDate(0, 0, d).Add(11 * time.Hour), Hostname: "site-a", Paths: []string{file},
			Tags: append(slices.Clone(tags), "pre-upgrade", "from=v1.17.2")}, map[string][]byte{file: []byte("before")})
	}
	sb.MustRun(maintenance(t, all, "t"), Opts{})
	var got []string
	for _, s := range sb.Snapshots() {
		day := s.Time.Format("01-02")
		if s.HasTag("pre-upgrade") {
			day += " pre-upgrade"
		}
		got = append(got, day)
	}
	slices.Sort(got)
	// Nextcloud keeps 3 daily, 2 weekly, 1 monthly (TestRetentionTouchesOnlyItsStore).
	want := []string{"01-21 pre-upgrade", "02-23", "02-27", "02-28", "03-01"}
	if !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
}
