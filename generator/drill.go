package generator

import (
	"fmt"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/odbackup/odbackup/generator/plan"
)

// A restore drill restores the newest backup of each of an app's
// restic-backed stores into scratch space inside its own pod (an emptyDir,
// never the live service) and checks it. Each kind that can be drilled
// implements drillKind in its own file; the planner asks plan.DrillKind
// which stores have a drill.
//
// The drill scripts follow the backup scripts' convention (scripts.go):
// what depends on where they run comes from the environment
// (ODBACKUP_SCRATCH, restic's variables), so the e2e tests run them as
// they are. A failed check ends the script with one line,
// "odbackup drill FAILED: <store>: <reason>", and a non-zero exit, which
// fails the Job.

// Drill is the plan's restore drill, under the name the CLI and e2e use.
type Drill = plan.Drill

// drillKind is a Kind whose backups a drill restores and checks.
type drillKind interface {
	Kind
	plan.DrillKind
	// drillContainer decides image, script, environment and user of the
	// drill's container for a step; the caller names it and adds restic's
	// environment.
	drillContainer(g *generation, st *Step) containerPlan
	// drillChecks says what the drill checks, for the runbooks and the
	// coverage report.
	drillChecks(st *Step) string
}

// Labels and annotations of drill CronJobs, for alert rules to select on.
const (
	labelDrill = "odbackup.io/drill"
	// drillDeadlineSeconds bounds a drill like a backup: a restore into
	// scratch takes about as long as the backup's own restore.
	drillDeadlineSeconds = 6 * 3600
)

func (g *generation) drillCronJob(d *Drill) *batchv1.CronJob {
	var plans []containerPlan
	var ids []string
	for _, st := range d.Steps {
		cp := st.Kind.(drillKind).drillContainer(g, st)
		cp.name = st.Container
		cp.env = append(cp.env, resticEnv(st.Target)...)
		plans = append(plans, cp)
		ids = append(ids, st.Store.ID)
	}
	ids = slices.Compact(ids)
	res := g.plan.Site.Policy.Resources
	if r := d.App.Settings.Resources; r != nil {
		res = *r
	}
	cj := g.cronJob(d.Name, d.App.ID, d.Schedule, drillDeadlineSeconds,
		map[string]string{annotStores: strings.Join(ids, ",")}, g.pod(d.Name, res, plans))
	cj.Labels[labelDrill] = "true"
	cj.Spec.JobTemplate.Labels[labelDrill] = "true" // shared with the pod template's labels
	return cj
}

// drillScratch is where a drill works: the pod's /tmp emptyDir, or
// ODBACKUP_SCRATCH (the e2e tests' temporary folder).
const drillScratch = `scratch=${ODBACKUP_SCRATCH:-/tmp}/odbackup-drill
rm -rf "$scratch"
mkdir -p "$scratch"
`

// drillHeader starts a drill script: the header, fail (the one-line
// reason and the exit) and the scratch folder.
func drillHeader(st *Step, what string) *strings.Builder {
	b := new(strings.Builder)
	b.WriteString(scriptHeader("odbackup drill: " + what + " (" + st.Store.ID + ")"))
	fmt.Fprintf(b, `fail() {
	echo "odbackup drill FAILED: %s: $*" >&2
	exit 1
}
`, st.Store.ID)
	b.WriteString(drillScratch)
	return b
}

// drillFetch writes FILE of the newest snapshot tagged tags (store=<id>
// and more) of the site into the scratch folder as OUT. A drill stages
// the file rather than streaming it: a failed dump is then one exit code,
// and the check reads the bytes the restore read.
func drillFetch(site, tags, file, out string) string {
	return fmt.Sprintf(`restic dump --no-lock --host=%[1]s --tag=%[2]s latest %[3]s >"$scratch/%[4]s" ||
	fail "restic dump of %[3]s from the newest snapshot failed (no snapshot, or the repository cannot be read)"
echo "odbackup drill: $(wc -c <"$scratch/%[4]s") bytes of %[3]s restored from the newest snapshot"
`, shq(site), shqTag(tags), shqTag(file), out)
}

// drillPassed ends a drill script.
func drillPassed(st *Step, what string) string {
	return fmt.Sprintf("echo \"odbackup drill passed: %s: %s\"\n", st.Store.ID, what)
}

// drillWords says, for a runbook, how a step's backups are drilled: the
// drill's schedule and what it checks, that the policy turned it off and
// why, or that the kind has no drill.
func (rb *runbooks) drillWords(st *Step) string {
	if d := rb.plan.DrillOf(st); d != nil {
		return fmt.Sprintf("CronJob %s, cron %s (%s): %s", code(d.Name), code(d.Schedule), rb.pol.Schedule.TimeZone, st.Kind.(drillKind).drillChecks(st))
	}
	if off := rb.plan.DrillOffOf(st); off != nil {
		return "**off** by the site's decision: " + off.Reason
	}
	return "none: odbackup drills restic backups of databases, Redis and LDIF exports only"
}
