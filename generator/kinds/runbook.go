package kinds

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
)

// SnapshotPlaceholder stands, in a runbook, for the backup the reader
// chose: the one decision a human must make.
const SnapshotPlaceholder = "<snapshot>"

// Runbook is what a kind's words in a runbook may ask of the page they are
// written on: site-specific commands, complete and ready to paste.
// generator/runbook implements it; a kind never builds a command that names
// the namespace or a Secret by itself.
type Runbook interface {
	Plan() *plan.Plan
	Policy() *schema.Policy
	// Restores are every restore Job of the site.
	Restores() []*RestoreJob
	// Kubectl is kubectl with the site's namespace and args.
	Kubectl(args string) string
	// ApplyCommands writes the commands that run a restore Job: list,
	// then restore the chosen backup, then follow its log.
	ApplyCommands(m *markdown.Doc, r *RestoreJob)
	// SecretCommand prints one key of a Secret.
	SecretCommand(ref schema.SecretKeyRef) string
	// ThrowAwayPod runs a command in a pod that is deleted when it ends.
	ThrowAwayPod(name, image string, env []corev1.EnvVar, interactive bool, command ...string) string
	// Note is the path of a file in the operator's notes folder.
	Note(name string) string
	// NotesDir is the operator's notes folder of the site.
	NotesDir() string
	// Exports sets an environment in the operator's shell, reading
	// Secrets; names in skip are left out.
	Exports(env []corev1.EnvVar, skip ...string) string
	// StopCommands scale workloads to 0 (suspend CronJobs) and wait.
	StopCommands(ws []schema.Workload) string
	// RecordCommand writes the workloads' replicas to a note.
	RecordCommand(ws []schema.Workload, file string) string
	// StartCommands bring the workloads back as the note recorded them.
	StartCommands(ws []schema.Workload, file string) string
}
