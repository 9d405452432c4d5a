package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/odbackup/odbackup/internal/scripttest"
)

// PreUpgrade returns the step of storeID in the site's pre-upgrade Jobs.
func (s *Site) PreUpgrade(t testing.TB, storeID string) *Container {
	t.Helper()
	var found []*Container
	for _, p := range s.Tree.Paths() {
		if !strings.HasPrefix(p, "pre-upgrade/") {
			continue
		}
		var job batchv1.Job
		if err := yaml.UnmarshalStrict(s.File(t, p), &job); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, c := range containers(p, job.Spec.Template.Spec, s) {
			if !strings.HasPrefix(c.Name, "copy-") && scripttest.StoreOf(c.Script()) == storeID {
				found = append(found, c)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one pre-upgrade step of %s, found %d", storeID, len(found))
	}
	return found[0]
}

// TestPreUpgradeBackup runs a pre-upgrade Job's step against the real
// PostgreSQL and restic: its snapshot is tagged pre-upgrade and with the
// release it upgrades from, and the restic maintenance keeps it.
func TestPreUpgradeBackup(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	db := Unique("xwiki_")
	s := e.BuildSite(t, SiteSpec{
		Apps:   []string{"xwiki"},
		Policy: fmt.Sprintf("stores: \"xwiki/postgresql/xwiki\": connection: database: %q\n", db),
	})
	const store = "xwiki/postgresql/xwiki"
	step := s.PreUpgrade(t, store)
	password := e.EnsurePGRole(t, "xwiki_user")
	s.Secrets[step.SecretRef(t, "PGPASSWORD")] = password
	e.MustPsql(t, "", fmt.Sprintf(`CREATE DATABASE %q OWNER "xwiki_user";`, db))
	t.Cleanup(func() { e.Psql(t, "", fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE);`, db)) })
	e.PsqlAs(t, db, "xwiki_user", password, pgAppData)

	step.MustRun(t, nil)
	s.Backup(t, store).MustRun(t, nil) // the night after: not pre-upgrade
	s.Maintenance(t).MustRun(t, nil)

	repo := s.RepoEnv(t)
	pre := e.Snapshots(t, repo, "--tag", "store="+store+",pre-upgrade")
	if len(pre) != 1 || !slices.Contains(pre[0].Tags, "from=v1.18.1") {
		t.Fatalf("want one snapshot tagged pre-upgrade and from=v1.18.1 after maintenance, got %+v", pre)
	}
	if all := e.Snapshots(t, repo, "--tag", "store="+store); len(all) != 2 {
		t.Errorf("want the pre-upgrade and the nightly snapshot, got %+v", all)
	}
}
