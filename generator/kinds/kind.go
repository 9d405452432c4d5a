package kinds

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// Kind is one way of backing up a store, with everything odbackup generates
// for it: what the planner needs (plan.Kind), the backup container and the
// RBAC rules of its script, the restore Job and its rules, and the runbook's
// words for it. Each kind lives in a file of its own (kind_<name>.go) and is
// listed in the registry (registry.go); nothing else names a kind.
//
// A new kind embeds Restic, which gives the defaults of a kind whose data
// goes to restic, and overrides what differs. Everything a kind needs is
// exported: a kind can live outside this package (kind_test.go in
// generator builds a site with one).
// PodCreator is a Kind whose backup step creates a Pod of its own (the
// off-site copy's pod). Its account's right to create pods cannot be
// narrowed by RBAC beyond the pod's name, and a pod may name any Secret,
// claim, image or ServiceAccount of the namespace: the admission policy
// lets the account create only pods that use what this one uses.
type PodCreator interface {
	CreatedPod(g *manifest.Builder, st *plan.Step) *corev1.Pod
}

type Kind interface {
	plan.Kind

	// BackupContainer decides image, script, environment and tools of a
	// step's container; the caller names it and adds restic's environment
	// when the kind's traits say Restic.
	BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container
	// BackupRules adds what the backup script does with the Kubernetes API.
	BackupRules(st *plan.Step, add BackupRule)

	// RestoreContainer decides image, environment, mounts and tools of a
	// restore's container; the caller adds the script, ODBACKUP_SNAPSHOT
	// and restic's environment.
	RestoreContainer(g *manifest.Builder, st *plan.Step) manifest.Container
	// RestoreScript is the restore Job's script.
	RestoreScript(g *manifest.Builder, r *RestoreJob) string
	// RestorePod adds what the restore's pod needs beyond its container
	// (a claim to write to).
	RestorePod(st *plan.Step, pod *corev1.PodSpec)
	// RestoreRules adds what the restore script does with the Kubernetes
	// API; stopped adds the rule that lets it check r.Stopped.
	RestoreRules(r *RestoreJob, named RestoreRule, stopped func())
	// RestoreBase is the part of a restore Job's name that says what it
	// restores.
	RestoreBase(st *plan.Step) string
	// StoppedWorkload is the workload that must have 0 replicas while a
	// restore runs, or nil.
	StoppedWorkload(p *plan.Plan, st *plan.Step) *schema.Workload

	// RestoreTarget names what a restore Job restores: a noun, the object's
	// name and, for the heading, what kind of thing it is.
	RestoreTarget(r *RestoreJob) (noun, name, kind string)
	// RunbookSection explains the restore in the app's runbook.
	RunbookSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob)
	// BackupWay says how and when a step backs up, and where to.
	BackupWay(rb Runbook, st *plan.Step, when string) string
	// SnapshotMeaning says what <snapshot> is for the kind.
	SnapshotMeaning() string
	// ListCommand lists what a store could be restored from.
	ListCommand(rb Runbook, st *plan.Step) string
	// StoreCheck is a check that one restore took effect.
	StoreCheck(rb Runbook, r *RestoreJob) string
	// Glossary rows explain the kind's words on a runbook page.
	Glossary() [][]string
}

// BackupRule grants a backup script verbs on a resource, for one named
// object or, with name "", for objects whose names are known only at run
// time.
type BackupRule func(group, resource string, verbs []string, name string)

// RestoreRule grants a restore script verbs on a resource, for the named
// objects or, without names, for all (create, list by label).
type RestoreRule func(group, resource string, verbs []string, names ...string)

// Of is the emitting side of a step's kind; generator.Emit checked with
// Check that every step has one.
func Of(st *plan.Step) Kind { return st.Kind.(Kind) }

// Check makes sure every step of a plan has a kind that can be
// emitted: a plan made with a registry of planning-only kinds cannot.
func Check(p *plan.Plan) error {
	for _, st := range p.Steps {
		if _, ok := st.Kind.(Kind); !ok {
			return fmt.Errorf("store %s: method %s has no emitter (not a generator.Kind)", st.Store.ID, st.Method)
		}
	}
	return nil
}

// Restic gives the defaults of a kind whose data goes to a restic
// repository: restic's retention, snapshot IDs, listing and words.
type Restic struct{}

// Traits: the data goes to restic.
func (Restic) Traits() plan.Traits { return plan.Traits{Restic: true} }

// Kept: restic keeps the retention's daily, weekly and monthly snapshots.
func (Restic) Kept(r schema.Retention, _ schema.Snapshot) plan.Kept { return plan.Kept{GFS: &r} }

// RestorePod: a restore from restic needs nothing beyond its container.
func (Restic) RestorePod(*plan.Step, *corev1.PodSpec) {}

// RestoreBase is the store's kind and identifier, as label words.
func (Restic) RestoreBase(st *plan.Step) string {
	return labelWords(st.Store.Kind + "-" + st.Store.Identifier)
}

// StoppedWorkload: nothing must be stopped.
func (Restic) StoppedWorkload(*plan.Plan, *plan.Step) *schema.Workload { return nil }

// BackupWay names the method, the repository and the target.
func (Restic) BackupWay(_ Runbook, st *plan.Step, when string) string {
	return fmt.Sprintf("%s into restic %s (target %s), %s", markdown.Code(string(st.Method)), markdown.Code(st.Target.Restic.Repository), markdown.Code(st.TargetName), when)
}

// SnapshotMeaning: a restic snapshot ID.
func (Restic) SnapshotMeaning() string {
	return "a restic snapshot ID (8 or more hex digits)"
}

// ListCommand lists the store's restic snapshots.
func (Restic) ListCommand(_ Runbook, st *plan.Step) string {
	return markdown.Code(shell.SnapshotsCommand(st))
}

// StoreCheck: the Job completed without error.
func (Restic) StoreCheck(_ Runbook, r *RestoreJob) string {
	return fmt.Sprintf("%s: the Job completed and its log shows no error.", markdown.Code(r.Step.Store.ID))
}

// Glossary: a runbook page explains restic's words itself.
func (Restic) Glossary() [][]string { return nil }
