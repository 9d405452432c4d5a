package generator_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/kinds"
	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// tapeCopy is a kind that exists only in this test, outside package kinds:
// it copies a store named "tape" with a made-up command into restic. It
// proves that a new kind needs its own file and a registry entry, nothing
// else, and only what package kinds exports: every output below comes from
// asking it.
type tapeCopy struct{ kinds.Restic }

func (tapeCopy) Method() plan.Method             { return "tape-copy" }
func (tapeCopy) Backs(st *schema.SiteStore) bool { return st.Kind == "tape" }
func (tapeCopy) GroupOrder() int                 { return 1 }
func (tapeCopy) BackupRules(st *plan.Step, add kinds.BackupRule) {
	add("", "pods", []string{"get"}, "tape-0")
}

func (tapeCopy) BackupContainer(_ *manifest.Builder, st *plan.Step) manifest.Container {
	return manifest.Container{Image: "example.org/tape:1", Restic: true, Script: "tape-dump " + shell.Quote(st.Store.Identifier) + "\n",
		Env: []corev1.EnvVar{manifest.Literal("TAPE_DRIVE", "/dev/st0")}}
}

func (tapeCopy) RestoreContainer(_ *manifest.Builder, st *plan.Step) manifest.Container {
	return manifest.Container{Image: "example.org/tape:1", Restic: true}
}

func (tapeCopy) RestoreScript(_ *manifest.Builder, r *kinds.RestoreJob) string {
	return "tape-load " + shell.Quote(r.Step.Store.Identifier) + "\n"
}

func (tapeCopy) RestoreRules(_ *kinds.RestoreJob, named kinds.RestoreRule, _ func()) {
	named("", "pods", []string{"get"}, "tape-0")
}

func (tapeCopy) RestoreTarget(r *kinds.RestoreJob) (noun, name, kind string) {
	return "tape", r.Step.Store.Identifier, "Tape"
}

func (tapeCopy) RunbookSection(rb kinds.Runbook, m *markdown.Doc, _ *schema.SiteApp, r *kinds.RestoreJob) {
	m.Para("Load the tape %s.", markdown.Code(r.Step.Store.Identifier))
	rb.ApplyCommands(m, r)
}

// tapeSite is the ce-school example with one more store, of kind "tape",
// in its first app that backs up anything.
func tapeSite(t *testing.T) (*schema.Site, *schema.SiteStore) {
	t.Helper()
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../examples/ce-school/site.cue")
	if err != nil {
		t.Fatal(err)
	}
	site, err := s.Evaluate("site.cue", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range site.Apps {
		i := slices.IndexFunc(app.Stores, func(st *schema.SiteStore) bool { return st.Status == schema.StatusBackup })
		if i < 0 {
			continue
		}
		store := *app.Stores[i].Store
		store.Kind, store.Identifier, store.ID, store.Export = "tape", "reel-1", app.ID+"/tape/reel-1", nil
		store.Restore = schema.StoreRestore{}
		tape := &schema.SiteStore{Store: &store, Status: schema.StatusBackup, Decision: app.Stores[i].Decision}
		app.Stores = append(app.Stores, tape)
		return site, tape
	}
	t.Fatal("no app backs up a store")
	return nil, nil
}

// TestFakeKind registers a test-only kind and builds a site with it: the
// backup CronJob, its RBAC, the restore Job, the runbook and the coverage
// report all carry what the kind says.
func TestFakeKind(t *testing.T) {
	site, tape := tapeSite(t)
	p, err := plan.New(site, kinds.PlanKinds(append(kinds.All(), tapeCopy{})))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := generator.Emit(p)
	if err != nil {
		t.Fatal(err)
	}
	var backup, restore, runbook, rbac bool
	for _, path := range tree.Paths() {
		data := string(tree[path])
		switch {
		case strings.HasPrefix(path, "cronjobs/") && strings.Contains(data, "tape-dump reel-1"):
			backup = strings.Contains(data, "example.org/tape:1") && strings.Contains(data, "TAPE_DRIVE") && strings.Contains(data, "RESTIC_REPOSITORY")
		case strings.HasPrefix(path, "restore/") && strings.Contains(data, "tape-load reel-1"):
			restore = strings.Contains(data, "odbackup.io/method: tape-copy") && strings.Contains(data, "tape-0")
		case strings.HasPrefix(path, "runbooks/") && strings.Contains(data, "Load the tape `reel-1`."):
			runbook = strings.Contains(data, "Tape (Tape)") || strings.Contains(data, "`reel-1` (Tape)")
		case strings.HasPrefix(path, "rbac/") && strings.Contains(data, "tape-0"):
			rbac = true
		}
	}
	if !backup || !restore || !runbook || !rbac {
		t.Errorf("the tape kind is missing from the output: backup %v, restore %v, runbook %v, rbac %v", backup, restore, runbook, rbac)
	}
	var cov struct {
		Apps []struct {
			Stores []struct {
				ID      string
				Backups []struct{ Method string }
			}
		}
	}
	if err := json.Unmarshal(tree["coverage.json"], &cov); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range cov.Apps {
		for _, st := range a.Stores {
			if st.ID == tape.ID && len(st.Backups) == 1 && st.Backups[0].Method == "tape-copy" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("coverage.json does not report %s backed up by tape-copy", tape.ID)
	}
}

// TestKindWithoutEmitter: a plan made with a kind that is not a
// generator.Kind is refused by Emit with an error, not a panic.
func TestKindWithoutEmitter(t *testing.T) {
	site, tape := tapeSite(t)
	p, err := plan.New(site, append(kinds.PlanKinds(kinds.All()), plan.Kind(planOnlyKind{})))
	if err != nil {
		t.Fatal(err)
	}
	_, err = generator.Emit(p)
	if err == nil || !strings.Contains(err.Error(), tape.ID) || !strings.Contains(err.Error(), "no emitter") {
		t.Fatalf("Emit = %v, want an error naming %s", err, tape.ID)
	}
}

// planOnlyKind implements plan.Kind and nothing more.
type planOnlyKind struct{}

func (planOnlyKind) Method() plan.Method                                  { return "plan-only" }
func (planOnlyKind) Backs(st *schema.SiteStore) bool                      { return st.Kind == "tape" }
func (planOnlyKind) GroupOrder() int                                      { return 1 }
func (planOnlyKind) Traits() plan.Traits                                  { return plan.Traits{Restic: true} }
func (planOnlyKind) Kept(r schema.Retention, _ schema.Snapshot) plan.Kept { return plan.Kept{GFS: &r} }
