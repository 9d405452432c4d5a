package generator

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
)

// Kind is one way of backing up a store, with everything odbackup generates
// for it: what the planner needs (plan.Kind), the backup container and the
// RBAC rules of its script, the restore Job and its rules, and the runbook's
// words for it. Each kind lives in a file of its own (kind_*.go) and is
// listed in the registry (registry.go); nothing else names a kind.
//
// A new kind embeds resticKind, which gives the defaults of a kind whose
// data goes to restic, and overrides what differs.
type Kind interface {
	plan.Kind

	// backupContainer decides image, script, environment and tools of a
	// step's container; the caller names it and adds restic's environment
	// when the kind's traits say Restic.
	backupContainer(g *generation, st *Step) containerPlan
	// backupRules adds what the backup script does with the Kubernetes API.
	backupRules(st *Step, add backupRule)

	// restoreContainer decides image, environment, mounts and tools of a
	// restore's container; the caller adds the script, ODBACKUP_SNAPSHOT
	// and restic's environment.
	restoreContainer(g *generation, st *Step) containerPlan
	// restoreScript is the restore Job's script.
	restoreScript(r *RestoreJob) string
	// restorePod adds what the restore's pod needs beyond its container
	// (a claim to write to).
	restorePod(st *Step, pod *corev1.PodSpec)
	// restoreRules adds what the restore script does with the Kubernetes
	// API; stopped adds the rule that lets it check r.Stopped.
	restoreRules(r *RestoreJob, named restoreRule, stopped func())
	// restoreBase is the part of a restore Job's name that says what it
	// restores.
	restoreBase(st *Step) string
	// stoppedWorkload is the workload that must have 0 replicas while a
	// restore runs, or nil.
	stoppedWorkload(p *Plan, st *Step) *schema.Workload

	// restoreTarget names what a restore Job restores: a noun, the object's
	// name and, for the heading, what kind of thing it is.
	restoreTarget(r *RestoreJob) (noun, name, kind string)
	// runbookSection explains the restore in the app's runbook.
	runbookSection(rb *runbooks, m *markdown, app *schema.SiteApp, r *RestoreJob)
	// backupWay says how and when a step backs up, and where to.
	backupWay(rb *runbooks, st *Step, when string) string
	// snapshotMeaning says what <snapshot> is for the kind.
	snapshotMeaning() string
	// listCommand lists what a store could be restored from.
	listCommand(rb *runbooks, st *Step) string
	// storeCheck is a check that one restore took effect.
	storeCheck(rb *runbooks, r *RestoreJob) string
	// glossary rows explain the kind's words on a runbook page.
	glossary() [][]string
}

// backupRule grants a backup script verbs on a resource, for one named
// object or, with name "", for objects whose names are known only at run
// time.
type backupRule func(group, resource string, verbs []string, name string)

// restoreRule grants a restore script verbs on a resource, for the named
// objects or, without names, for all (create, list by label).
type restoreRule func(group, resource string, verbs []string, names ...string)

// kindOf is the emitting side of a step's kind; Emit checked that every
// step has one.
func kindOf(st *Step) Kind { return st.Kind.(Kind) }

// checkKinds makes sure every step of a plan has a kind that can be
// emitted: a plan made with a registry of planning-only kinds cannot.
func checkKinds(p *Plan) error {
	for _, st := range p.Steps {
		if _, ok := st.Kind.(Kind); !ok {
			return fmt.Errorf("store %s: method %s has no emitter (not a generator.Kind)", st.Store.ID, st.Method)
		}
	}
	return nil
}

// resticKind gives the defaults of a kind whose data goes to a restic
// repository: restic's retention, snapshot IDs, listing and words.
type resticKind struct{}

func (resticKind) Traits() plan.Traits { return plan.Traits{Restic: true} }

func (resticKind) Kept(r schema.Retention, _ schema.Snapshot) plan.Kept { return plan.Kept{GFS: &r} }

func (resticKind) restorePod(*Step, *corev1.PodSpec) {}

func (resticKind) restoreBase(st *Step) string {
	return labelWords(st.Store.Kind + "-" + st.Store.Identifier)
}

func (resticKind) stoppedWorkload(*Plan, *Step) *schema.Workload { return nil }

func (resticKind) backupWay(_ *runbooks, st *Step, when string) string {
	return fmt.Sprintf("%s into restic %s (target %s), %s", code(string(st.Method)), code(st.Target.Restic.Repository), code(st.TargetName), when)
}

func (resticKind) snapshotMeaning() string {
	return "a restic snapshot ID (8 or more hex digits)"
}

func (resticKind) listCommand(_ *runbooks, st *Step) string { return code(storeSnapshotsCommand(st)) }

func (resticKind) storeCheck(_ *runbooks, r *RestoreJob) string {
	return fmt.Sprintf("%s: the Job completed and its log shows no error.", code(r.Step.Store.ID))
}

func (resticKind) glossary() [][]string { return nil }
