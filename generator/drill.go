package generator

import (
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/odbackup/odbackup/generator/kinds"
	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/plan"
)

// A restore drill restores the newest backup of each of an app's
// restic-backed stores into scratch space inside its own pod (an emptyDir,
// never the live service), or for a bucket mirror a sample of it, and
// checks it. Each kind that can be drilled
// implements kinds.DrillKind in its own file; the planner asks plan.DrillKind
// which stores have a drill.

// Drill is the plan's restore drill, under the name the CLI and e2e use.
type Drill = plan.Drill

// Labels and annotations of drill CronJobs, for alert rules to select on.
const (
	labelDrill = "odbackup.io/drill"
	// drillDeadlineSeconds bounds a drill like a backup: a restore into
	// scratch takes about as long as the backup's own restore.
	drillDeadlineSeconds = 6 * 3600
)

func (g *generation) drillCronJob(d *Drill) *batchv1.CronJob {
	var plans []manifest.Container
	var ids []string
	for _, st := range d.Steps {
		cp := st.Kind.(kinds.DrillKind).DrillContainer(g.Builder, st)
		cp.Name = st.Container
		if st.UsesRestic() {
			cp.Env = append(cp.Env, manifest.ResticEnv(st.Target)...)
		}
		plans = append(plans, cp)
		ids = append(ids, st.Store.ID)
	}
	ids = slices.Compact(ids)
	res := g.Plan.Site.Policy.Resources
	if r := d.App.Settings.Resources; r != nil {
		res = *r
	}
	cj := g.cronJob(d.Name, d.App.ID, d.Schedule, drillDeadlineSeconds,
		map[string]string{manifest.AnnotStores: strings.Join(ids, ",")}, g.Pod(d.Name, res, plans))
	cj.Labels[labelDrill] = "true"
	cj.Spec.JobTemplate.Labels[labelDrill] = "true" // shared with the pod template's labels
	return cj
}
