package scripttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator"
)

// TestMariaDBWildcardMayMatchNothing (issue 16 item 2): a wildcard whose
// catalog entry says why it may legitimately match no database backs up
// nothing, exits 0 and says why in its log; the coverage report says so
// too. (TestMariaDBWildcardMatchesNothing covers the wildcards that may
// not.)
func TestMariaDBWildcardMayMatchNothing(t *testing.T) {
	t.Parallel()
	const store = "ox-appsuite/mariadb/oxguard*"
	const why = "OX Guard is switched off at this site"
	file := filepath.Join("..", "..", "examples", "ee-full", "site.cue")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	site, err := sch.Evaluate(file, src)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, app := range site.Apps {
		for _, st := range app.Stores {
			if st.ID == store {
				st.MayMatchNothing, found = why, true
			}
		}
	}
	if !found {
		t.Fatalf("no store %s in the ee-full example", store)
	}
	tree, err := generator.Generate(site)
	if err != nil {
		t.Fatal(err)
	}
	all := steps(t, tree)
	sb := NewSandbox(t)
	sb.SetDatabases("configdb", "PRIMARYDB_1")
	step := backupStep(t, all, store, false)
	sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
	r := sb.Run(step, Opts{})
	if !r.OK() {
		t.Fatalf("the step failed although its wildcard may match nothing:\n%s", r)
	}
	if !strings.Contains(r.Stdout, "nothing to back up, as expected when "+why) {
		t.Errorf("the log does not say why nothing matched is fine:\n%s", r)
	}
	if len(callsOf(r.Calls, "restic", "backup")) != 0 {
		t.Errorf("the step called restic backup with nothing to back up:\n%s", r)
	}
	if md := string(tree["coverage.md"]); !strings.Contains(md, "`"+store+"` (`oxguard*`): "+why) {
		t.Errorf("coverage.md does not say that %s may match nothing", store)
	}
}
