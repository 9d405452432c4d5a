// Package runbook renders a site's restore runbooks: the site-wide page
// (prerequisites, recovery order, finding the backups), one page per app
// (stop, choose, restore, verify, start) and the upgrade page. It asks each
// step's kind (generator/kinds) for its section and words, and gives the
// kinds the site-specific commands they use (kinds.Runbook).
//
// It only builds Markdown: no I/O, no clock.
package runbook

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/diagram"
	"github.com/odbackup/odbackup/generator/kinds"
	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// The runbooks are written for an on-call engineer who may never have seen
// openDesk: every command is complete and specific to the site (namespace,
// workloads, Secrets, claims, labels, database names), every step says what
// it does and why, and the only placeholder is the one decision a human
// must make, which backup to restore, written <snapshot>.

// tierRank orders a site-wide restore: what the others run on first.
var tierRank = map[string]int{"data-services": 0, "identity": 1, "apps": 2}

var tierTitle = map[string]string{
	"data-services": "Data services",
	"identity":      "Identity (Nubus)",
	"apps":          "Applications",
}

// runbooks renders runbooks/README.md and one runbooks/<app>.md per
// deployed app that has stores.
type runbooks struct {
	plan     *plan.Plan
	site     *schema.Site
	pol      *schema.Policy
	restores []*kinds.RestoreJob
	// objects builds the restore Jobs' containers, whose environments
	// name the Secrets a restore reads.
	objects *manifest.Builder
}

// Page is one runbook: its path in the site's tree and its Markdown.
type Page struct {
	Path string
	Data []byte
}

// Pages renders the site's runbooks: the site-wide page, the upgrade page
// and one page per deployed app that has stores.
func Pages(p *plan.Plan, restores []*kinds.RestoreJob) []Page {
	rb := &runbooks{plan: p, site: p.Site, pol: p.Site.Policy, restores: restores, objects: &manifest.Builder{Plan: p}}
	apps := rb.apps()
	pages := []Page{{Path: "runbooks/README.md", Data: rb.siteRunbook(apps)}, {Path: "runbooks/upgrade.md", Data: rb.upgradeRunbook()}}
	for _, a := range apps {
		pages = append(pages, Page{Path: "runbooks/" + a.ID + ".md", Data: rb.appRunbook(a)})
	}
	return pages
}

// apps are the deployed apps with stores, in disaster-recovery order.
func (rb *runbooks) apps() []*schema.SiteApp {
	var apps []*schema.SiteApp
	for _, a := range rb.site.Apps {
		if a.Deployed && len(a.Stores) > 0 {
			apps = append(apps, a)
		}
	}
	slices.SortStableFunc(apps, func(a, b *schema.SiteApp) int {
		return cmp.Or(cmp.Compare(tierRank[a.Tier], tierRank[b.Tier]), cmp.Compare(a.Order, b.Order), cmp.Compare(a.ID, b.ID))
	})
	return apps
}

// appRestores are an app's restore Jobs in restore order: a primary's
// volumes first, then small state, databases, buckets and volumes (as the
// backup ran them); a logical export after the volumes it stands in for.
func (rb *runbooks) appRestores(app string) []*kinds.RestoreJob {
	var out []*kinds.RestoreJob
	for _, r := range rb.restores {
		if r.App() == app {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b *kinds.RestoreJob) int {
		sa, sb := a.Step, b.Step
		return cmp.Or(
			// the primary's data first: the rest of the app follows it
			cmp.Compare(boolRank(!sa.Store.Restore.PrimaryOnly), boolRank(!sb.Store.Restore.PrimaryOnly)),
			cmp.Compare(rb.plan.StoreOrder(sa.Store), rb.plan.StoreOrder(sb.Store)),
			cmp.Compare(sa.Store.Kind, sb.Store.Kind),
			// an export is the fallback for the volumes before it
			cmp.Compare(boolRank(sa.Kind.Traits().Export), boolRank(sb.Kind.Traits().Export)),
			// a named database (OX's configdb) before the ones it maps
			cmp.Compare(boolRank(strings.HasSuffix(sa.Store.Identifier, "*")), boolRank(strings.HasSuffix(sb.Store.Identifier, "*"))),
			cmp.Compare(sa.Store.ID, sb.Store.ID))
	})
	return out
}

// appJobs are the backup CronJobs of an app.
func (rb *runbooks) appJobs(app string) []*plan.Job {
	var out []*plan.Job
	for _, j := range rb.plan.Jobs {
		if j.App.ID == app {
			out = append(out, j)
		}
	}
	return out
}

// NotesDir is where the runbooks' commands keep what the operator needs
// later (recorded replicas, old volume names): outside the site's output
// folder, which the next odbackup build replaces as a whole, and per site.
func (rb *runbooks) NotesDir() string { return "~/odbackup-notes/" + rb.pol.Site }

// Note is the path of one note file in notesDir.
func (rb *runbooks) Note(name string) string { return rb.NotesDir() + "/" + name }

// Kubectl is a kubectl command line in the site's namespace.
func (rb *runbooks) Kubectl(args string) string {
	return "kubectl --namespace=" + rb.pol.Namespace + " " + args
}

func (rb *runbooks) distribution() string {
	if rb.pol.Distribution == "opendesk-edu" {
		return "openDesk Edu"
	}
	return "openDesk"
}

func (rb *runbooks) edition() string {
	if rb.pol.Edition == "ee" {
		return "Enterprise Edition (EE)"
	}
	return "Community Edition (CE)"
}

func (rb *runbooks) siteLine() string {
	return fmt.Sprintf("Site %s · %s %s %s · namespace %s", markdown.Code(rb.pol.Site), rb.distribution(), rb.edition(), rb.pol.Release, markdown.Code(rb.pol.Namespace))
}

const generatedNote = "Generated by odbackup from the site's policy: change the policy and build again rather than editing this page."

// restoreEnv is the environment of a restore Job's container, as the
// runbook reads it to name Secrets.
func (rb *runbooks) restoreEnv(r *kinds.RestoreJob) []corev1.EnvVar {
	return kinds.RestoreContainer(rb.objects, r).Env
}

// secretRefs lists the Secret keys an environment reads, sorted and unique.
func secretRefs(env []corev1.EnvVar) []schema.SecretKeyRef {
	var refs []schema.SecretKeyRef
	for _, e := range env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			refs = append(refs, schema.SecretKeyRef{Name: e.ValueFrom.SecretKeyRef.Name, Key: e.ValueFrom.SecretKeyRef.Key})
		}
	}
	slices.SortFunc(refs, func(a, b schema.SecretKeyRef) int { return cmp.Compare(a.String(), b.String()) })
	return slices.Compact(refs)
}

// SecretCommand prints one key of a Secret.
func (rb *runbooks) SecretCommand(ref schema.SecretKeyRef) string {
	return rb.Kubectl(fmt.Sprintf(`get secret %s --output=go-template='{{index .data "%s" | base64decode}}'`, ref.Name, ref.Key))
}

// secretValue is a shell expression that reads one key of a Secret.
func (rb *runbooks) secretValue(ref schema.SecretKeyRef) string {
	return `"$(` + rb.SecretCommand(ref) + `)"`
}

// Exports turns a container environment into `export` lines for the
// reader's shell: literal values as they are, Secret values read from the
// cluster.
func (rb *runbooks) Exports(env []corev1.EnvVar, skip ...string) string {
	var b strings.Builder
	for _, e := range env {
		if slices.Contains(skip, e.Name) {
			continue
		}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := schema.SecretKeyRef{Name: e.ValueFrom.SecretKeyRef.Name, Key: e.ValueFrom.SecretKeyRef.Key}
			fmt.Fprintf(&b, "export %s=%s\n", e.Name, rb.secretValue(ref))
		default:
			fmt.Fprintf(&b, "export %s=%s\n", e.Name, shell.Quote(e.Value))
		}
	}
	return b.String()
}

// resticExports sets up the reader's restic for one target.
func (rb *runbooks) resticExports(t *schema.Target) string {
	return rb.Exports(manifest.ResticEnv(t), "RESTIC_CACHE_DIR")
}

// ThrowAwayPod is a kubectl run of a Pod that is deleted when its command
// ends, valid under the Pod Security Standard "restricted" like every Pod
// odbackup generates.
func (rb *runbooks) ThrowAwayPod(name, image string, env []corev1.EnvVar, interactive bool, command ...string) string {
	type secretKeyRef struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	var envJSON []string
	for _, e := range env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			envJSON = append(envJSON, fmt.Sprintf(`{"name":%q,"valueFrom":{"secretKeyRef":{"name":%q,"key":%q}}}`,
				e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
		} else {
			envJSON = append(envJSON, fmt.Sprintf(`{"name":%q,"value":%q}`, e.Name, e.Value))
		}
	}
	var cmdJSON []string
	for _, c := range command {
		cmdJSON = append(cmdJSON, fmt.Sprintf("%q", c))
	}
	tty := ""
	flags := "--rm --stdin --restart=Never --quiet"
	if interactive {
		tty = `,"stdin":true,"stdinOnce":true,"tty":true`
		flags = "--rm --stdin --tty --restart=Never"
	}
	overrides := fmt.Sprintf(`{"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":%d,"runAsGroup":%d,"seccompProfile":{"type":"RuntimeDefault"}},`+
		`"containers":[{"name":%q,"image":%q,"command":[%s],"env":[%s]%s,`+
		`"securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}}}]}}`,
		manifest.RunAsUser, manifest.RunAsUser, name, image, strings.Join(cmdJSON, ","), strings.Join(envJSON, ","), tty)
	return rb.Kubectl(fmt.Sprintf("run %s %s --image=%s \\\n  --overrides=%s", name, flags, image, shell.Quote(overrides)))
}

// ApplyCommands are the commands that run a restore Job with the newest
// backup, or with the chosen one, follow it, check it and clean up.
func (rb *runbooks) ApplyCommands(m *markdown.Doc, r *kinds.RestoreJob) {
	m.Para("Run the Job, naming the backup as you apply it (applied as it is, the Job only lists the backups and restores nothing). A Job left from an earlier apply cannot be changed, so delete it first. For the newest backup:")
	m.CodeBlock("sh", rb.Kubectl("delete job --ignore-not-found "+r.Name)+"\n"+chosenApply(r, "latest"))
	m.Para("Or, for the backup you chose (%s, see %s):", markdown.Code(kinds.SnapshotPlaceholder), markdown.Link("Choose the backup", "#2-choose-the-backup"))
	m.CodeBlock("sh", rb.Kubectl("delete job --ignore-not-found "+r.Name)+"\n"+chosenApply(r, kinds.SnapshotPlaceholder))
	m.Para("Follow its log to the end, then check that it completed (%s prints %s; a timeout means the Job failed, and the log says why). Then remove the Job with its ServiceAccount, Role and RoleBinding:",
		markdown.Code("kubectl wait"), markdown.Code("condition met"))
	m.CodeBlock("sh", rb.followCommands(r)+"kubectl delete --filename="+r.Path)
}

// logsCommand follows the log of a Job's pod. kubectl logs fails at once
// while the pod's init containers run (copying the tools; "waiting to
// start: PodInitializing"), so it first waits until the pod, found by
// odbackup's job label, is running or has ended.
func (rb *runbooks) logsCommand(job string) string {
	return fmt.Sprintf(`until case $(%s) in *Running* | *Succeeded* | *Failed*) true ;; *) false ;; esac; do
  echo "waiting for the pod of job/%s to start"; sleep 5
done
%s`, rb.Kubectl(fmt.Sprintf("get pods --selector=%s=%s --output=jsonpath='{.items[*].status.phase}'", manifest.LabelJob, job)), job,
		rb.Kubectl("logs --follow job/"+job))
}

// chosenApply applies a restore Job with ODBACKUP_SNAPSHOT set to value.
func chosenApply(r *kinds.RestoreJob, value string) string {
	return fmt.Sprintf("sed '/name: ODBACKUP_SNAPSHOT/{n;s/value: .*/value: \"%s\"/;}' %s | kubectl apply --filename=-", value, r.Path)
}

func (rb *runbooks) followCommands(r *kinds.RestoreJob) string {
	return rb.logsCommand(r.Name) + "\n" +
		rb.Kubectl(fmt.Sprintf("wait --for=condition=complete --timeout=60s job/%s", r.Name)) + "\n"
}

// stopList is what a restore of the app stops, in order: the app's backup
// CronJobs first (so no backup runs on a half-restored app and no snapshot
// is pruned while the reader picks one), then the app's workloads.
func (rb *runbooks) stopList(app *schema.SiteApp) []schema.Workload {
	var ws []schema.Workload
	for _, j := range rb.appJobs(app.ID) {
		ws = append(ws, schema.Workload{Kind: "CronJob", Name: j.Name, Confidence: "confirmed", Source: "generated by odbackup: cronjobs/" + j.Name + ".yaml"})
	}
	return append(ws, app.Workloads...)
}

// RecordCommand writes "kind/name replicas" (or "cronjob/name suspended")
// for each workload to file, so the start step can put back what ran.
func (rb *runbooks) RecordCommand(ws []schema.Workload, file string) string {
	var refs []string
	for _, w := range ws {
		refs = append(refs, shell.WorkloadRef(w))
	}
	return fmt.Sprintf(`mkdir -p %s
for w in %s; do
  case $w in
  cronjob/*) state=$(%s) ;;
  *) state=$(%s) ;;
  esac
  echo "$w ${state:-false}"
done | tee %s`, rb.NotesDir(), strings.Join(refs, " "),
		rb.Kubectl(`get "$w" --output=jsonpath='{.spec.suspend}'`),
		rb.Kubectl(`get "$w" --output=jsonpath='{.spec.replicas}'`), file)
}

// StopCommands suspend CronJobs and scale the rest to 0, in order, then
// wait until their pods are gone.
func (rb *runbooks) StopCommands(ws []schema.Workload) string {
	var b strings.Builder
	var scaled, suspended []string
	for _, w := range ws {
		if w.Kind == "CronJob" {
			b.WriteString(rb.Kubectl(fmt.Sprintf(`patch %s --patch='{"spec":{"suspend":true}}'`, shell.WorkloadRef(w))) + "\n")
			suspended = append(suspended, shell.WorkloadRef(w))
			continue
		}
		b.WriteString(rb.Kubectl(fmt.Sprintf("scale %s --replicas=0", shell.WorkloadRef(w))) + "\n")
		scaled = append(scaled, shell.WorkloadRef(w))
	}
	if len(scaled) > 0 {
		fmt.Fprintf(&b, `for w in %s; do
  until case $(%s) in '' | 0) true ;; *) false ;; esac; do
    echo "waiting for the pods of $w to end"; sleep 5
  done
done
`, strings.Join(scaled, " "), rb.Kubectl(`get "$w" --output=jsonpath='{.status.replicas}'`))
	}
	// Suspending a CronJob does not stop a Job it already started.
	if len(suspended) > 0 {
		fmt.Fprintf(&b, `for w in %s; do
  until [ -z "$(%s)" ]; do
    echo "waiting for the running Job of $w to end"; sleep 10
  done
done
`, strings.Join(suspended, " "), rb.Kubectl(`get "$w" --output=jsonpath='{.status.active}'`))
	}
	return b.String()
}

// StartCommands put back the recorded replicas and suspend flags, in the
// reverse order of the stop, and wait for the workloads to be ready.
func (rb *runbooks) StartCommands(ws []schema.Workload, file string) string {
	var b strings.Builder
	var rollouts []string
	for i := len(ws) - 1; i >= 0; i-- {
		w := ws[i]
		ref := shell.WorkloadRef(w)
		recorded := fmt.Sprintf(`$(awk '$1 == "%s" { print $2 }' %s)`, ref, file)
		if w.Kind == "CronJob" {
			fmt.Fprintf(&b, "%s\n", rb.Kubectl(fmt.Sprintf(`patch %s --patch="{\"spec\":{\"suspend\":%s}}"`, ref, recorded)))
			continue
		}
		fmt.Fprintf(&b, "%s\n", rb.Kubectl(fmt.Sprintf(`scale %s --replicas="%s"`, ref, recorded)))
		rollouts = append(rollouts, ref)
	}
	for _, ref := range rollouts {
		b.WriteString(rb.Kubectl("rollout status --timeout=15m "+ref) + "\n")
	}
	return b.String()
}

// workloadTable lists workloads with the catalog's confidence in their
// names, so a reader knows which to check first on an unfamiliar cluster.
func workloadTable(m *markdown.Doc, ws []schema.Workload) {
	var rows [][]string
	for _, w := range ws {
		replicas := fmt.Sprint(w.Replicas)
		if w.Kind == "CronJob" {
			replicas = "suspended while restoring"
		}
		rows = append(rows, []string{markdown.Code(shell.WorkloadRef(w)), replicas, w.Confidence + ": " + w.Source})
	}
	m.Table([]string{"workload", "openDesk's default replicas", "how sure the name is"}, rows)
}

// checkCommand renders a catalog verify check as a command.
func (rb *runbooks) checkCommand(app *schema.SiteApp, c schema.Check) string {
	if c.Exec != nil {
		target := "pod/" + c.Exec.Workload
		for _, w := range app.Workloads {
			if w.Name == c.Exec.Workload {
				target = shell.WorkloadRef(w)
			}
		}
		container := ""
		if c.Exec.Container != "" {
			container = " --container=" + c.Exec.Container
		}
		return rb.Kubectl(fmt.Sprintf("exec %s%s -- sh -c %s", target, container, shell.Quote(c.Exec.Command)))
	}
	return rb.ThrowAwayPod("odbackup-verify", rb.pol.Images.Busybox, nil, false, "wget", "-q", "-O-", c.HTTPGet)
}

func (rb *runbooks) appRunbook(app *schema.SiteApp) []byte {
	m := &markdown.Doc{}
	restores := rb.appRestores(app.ID)
	m.Heading(1, "Restore %s", app.Name)
	m.Para("%s · %s", rb.siteLine(), markdown.Link("site-wide recovery order", "README.md"))
	m.Note(generatedNote)
	intro := fmt.Sprintf("%s (%s) keeps its data in the stores below.", app.Name, app.Description)
	if app.Description == "" {
		intro = app.Name + " keeps its data in the stores below."
	}
	if len(restores) == 0 {
		m.Para("%s This site backs none of them up, so there is nothing to restore: if %s loses its data, it starts empty (or rebuilds what it can) after openDesk's deployment brings it back. The table says why each store needs no backup.", intro, app.Name)
		rb.notRestored(m, app)
		rb.otherEditions(m, app)
		return m.Bytes()
	}
	m.Para("%s This runbook brings them back from the backups odbackup takes for this site. Every command is complete: copy it as it is. Run the commands in a POSIX shell (bash, zsh, sh) from the site's output folder, the one that holds %s, with %s pointed at the cluster. What the commands record for later (replica counts, old volume names) goes to %s, outside the output folder: the next %s replaces that folder as a whole. Read the page once to the end before you start; %s explains the terms it uses.",
		intro, markdown.Code("kustomization.yaml"), markdown.Code("kubectl"), markdown.Code(rb.NotesDir()+"/"), markdown.Code("odbackup build"), markdown.Link("Words used on this page", "#words-used-on-this-page"))
	rb.overview(m, app, restores)
	rb.before(m, app, restores)
	rb.choose(m, restores)
	ws := rb.stopList(app)
	file := rb.Note(app.ID + "-replicas.txt")
	rb.stop(m, app, ws, file)
	m.Heading(2, "4. Restore the stores")
	m.Para("In this order. Each step runs one restore Job; wait for it to complete before the next.")
	for i, r := range restores {
		rb.restoreSection(m, app, fmt.Sprintf("4.%d", i+1), r)
	}
	m.Heading(2, "5. Start %s again", app.Name)
	m.Para("Put back what step 3 recorded, in the reverse order, and wait until the workloads are ready. The backup CronJobs resume last: the next backup is the first of the restored state.")
	m.CodeBlock("sh", rb.StartCommands(ws, file))
	if mws := rb.maintenanceList(restores); len(mws) > 0 {
		m.Para("Then resume the restic maintenance as step 1 recorded it:")
		m.CodeBlock("sh", rb.StartCommands(mws, rb.Note(app.ID+"-maintenance.txt")))
	}
	rb.verify(m, app, restores)
	rb.failure(m, app)
	rb.glossary(m, restores)
	return m.Bytes()
}

// glossary explains the terms of the page to a reader who knows
// Kubernetes but neither openDesk nor the backup tools.
func (rb *runbooks) glossary(m *markdown.Doc, restores []*kinds.RestoreJob) {
	m.Heading(2, "Words used on this page")
	used := map[plan.Method]bool{}
	for _, r := range restores {
		used[r.Step.Method] = true
	}
	rows := [][]string{
		{"openDesk", "A suite of open-source collaboration apps (files, mail, calendar, chat, projects, wiki) for the public sector, deployed with Helm into one Kubernetes namespace, here " + markdown.Code(rb.pol.Namespace) + "."},
		{"store", "One place where an app keeps data: a database, an S3 bucket, a volume, a ConfigMap. Its id is " + markdown.Code("app/kind/name") + ", like " + markdown.Code(restores[0].Step.Store.ID) + "."},
		{"workload, replicas", "The Deployments and StatefulSets that run an app's pods; replicas is how many pods each runs. Scaled to 0, an app runs nothing and writes nothing."},
		{"CronJob, suspended", "A CronJob starts a Job on a schedule (odbackup's backups are CronJobs); while suspended, it starts none."},
		{"restore Job", "A Kubernetes Job that odbackup generated for this site: a Pod that runs one restore once and stops. Its file also holds the ServiceAccount, Role and RoleBinding that give it exactly the rights it needs, so deleting the file's objects takes the rights away again."},
	}
	restic := slices.ContainsFunc(restores, func(r *kinds.RestoreJob) bool { return r.Step.UsesRestic() })
	if restic {
		rows = append(rows, []string{"restic, repository, snapshot", "restic is the backup program; a repository is where it keeps backups, encrypted with the repository's password; a snapshot is one backup, with an ID like " + markdown.Code("1a2b3c4d") + ", a time, the site as host and tags that name the store."})
	}
	for _, k := range rb.plan.Kinds() {
		if used[k.Method()] {
			rows = append(rows, k.(kinds.Kind).Glossary()...)
		}
	}
	m.Table([]string{"word", "meaning"}, rows)
}

// overview is the table of what is restored, the diagram of the steps, and
// the notes that apply.
func (rb *runbooks) overview(m *markdown.Doc, app *schema.SiteApp, restores []*kinds.RestoreJob) {
	m.Heading(2, "At a glance")
	var rows [][]string
	for i, r := range restores {
		st := r.Step
		rows = append(rows, []string{fmt.Sprint(i + 1), markdown.Code(st.Store.ID), st.Store.Content, rb.backupWay(st), rb.drillWords(st), markdown.Link(markdown.Code(r.Path), "../"+r.Path)})
	}
	m.Table([]string{"step", "store", "holds", "backed up", "restore drill", "restore Job"}, rows)
	for _, d := range rb.plan.Drills {
		if d.App.ID == app.ID {
			mirror := ""
			if slices.ContainsFunc(d.Steps, func(st *plan.Step) bool { return st.Kind.Traits().BucketMirror }) {
				mirror = " (of a bucket mirror, the objects its newest run sampled)"
			}
			m.Para("The restore drill %s restores the newest backup of each store it lists above%s into scratch space in its own pod, never into the live service, and checks it; a failed check fails its Job, and the last line of its log starts with %s and names the store and the reason. Run it now, before you need a restore, with %s.",
				markdown.Code(d.Name), mirror, markdown.Code("odbackup drill FAILED:"), markdown.Code(rb.Kubectl(fmt.Sprintf("create job --from=cronjob/%s %s-now", d.Name, d.Name))))
		}
	}
	steps := diagram.New(diagram.Right)
	steps.AddNode("stop", "3. stop "+app.Name, "", "")
	prev := "stop"
	for i, r := range restores {
		id := fmt.Sprintf("s%d", i+1)
		steps.AddNode(id, fmt.Sprintf("4.%d %s", i+1, restoreTitlePlain(r)), "", "")
		steps.AddEdge(prev, id)
		prev = id
	}
	steps.AddNode("start", "5. start "+app.Name, "", "")
	steps.AddEdge(prev, "start")
	steps.AddNode("verify", "6. verify", "", "")
	steps.AddEdge("start", "verify")
	m.Diagram(steps)
	var notes []string
	notes = append(notes, app.Notes...)
	for _, r := range restores {
		if r.Step.Kind.Traits().Export {
			continue
		}
		notes = append(notes, r.Step.Store.Restore.Notes...)
	}
	if len(notes) > 0 {
		m.Para("Good to know:")
		m.List(slices.Compact(notes)...)
	}
	rb.notRestored(m, app)
	rb.otherEditions(m, app)
}

// backupWay says how and when a step backs up, and where to.
func (rb *runbooks) backupWay(st *plan.Step) string {
	when := fmt.Sprintf("cron %s (%s)", markdown.Code(st.Job.Schedule), rb.pol.Schedule.TimeZone)
	return kinds.Of(st).BackupWay(rb, st, when)
}

// notRestored lists the app's stores this site does not back up, with what
// that means when the data is lost.
func (rb *runbooks) notRestored(m *markdown.Doc, app *schema.SiteApp) {
	var rows [][]string
	for _, st := range app.Stores {
		var meaning string
		switch st.Status {
		case schema.StatusWaived:
			w := st.Decision.Waiver
			meaning = fmt.Sprintf("**waived** until %s: %s. Nothing restores it; if it is lost, %s starts with it empty.", w.Expires, w.Reason, app.Name)
		case schema.StatusOptedOut:
			meaning = fmt.Sprintf("**opted out** by the site (%s). Nothing restores it; if it is lost, %s starts with it empty.", st.Reason, app.Name)
		case schema.StatusNever:
			meaning = "**not backed up, by design**: " + st.Reason + "."
		default:
			continue
		}
		rows = append(rows, []string{markdown.Code(st.ID), st.Content, meaning})
	}
	if len(rows) == 0 {
		return
	}
	m.Para("Not restored by this runbook:")
	m.Table([]string{"store", "holds", "what that means for a restore"}, rows)
}

// otherEditions says which stores of the app belong to another edition or
// release, so a reader comparing with another site knows why steps differ.
func (rb *runbooks) otherEditions(m *markdown.Doc, app *schema.SiteApp) {
	var edition, release []string
	for _, st := range app.Stores {
		switch st.Status {
		case schema.StatusOtherEdition:
			edition = append(edition, markdown.Code(st.ID))
		case schema.StatusOtherRelease:
			release = append(release, markdown.Code(st.ID))
		}
	}
	if len(edition) > 0 {
		other := "Enterprise Edition"
		if rb.pol.Edition == "ee" {
			other = "Community Edition"
		}
		m.Para("This site runs the %s; the %s keeps %s data elsewhere (%s), so its runbook has other steps.", rb.edition(), other, app.Name, strings.Join(edition, ", "))
	}
	if len(release) > 0 {
		m.Para("Other openDesk releases have stores this site's %s does not: %s.", rb.pol.Release, strings.Join(release, ", "))
	}
}

// before lists the prerequisites of the app's restore.
func (rb *runbooks) before(m *markdown.Doc, app *schema.SiteApp, restores []*kinds.RestoreJob) {
	m.Heading(2, "1. Before you start")
	var env []corev1.EnvVar
	snapshots := false
	for _, r := range restores {
		env = append(env, rb.restoreEnv(r)...)
		snapshots = snapshots || r.Step.Kind.Traits().VolumeSnapshots
	}
	refs := secretRefs(env)
	var names []string
	var rows [][]string
	for _, ref := range refs {
		if !slices.Contains(names, ref.Name) {
			names = append(names, ref.Name)
		}
		rows = append(rows, []string{markdown.Code(ref.Name), markdown.Code(ref.Key), rb.secretUse(ref, restores)})
	}
	items := []string{
		fmt.Sprintf("If more than %s is affected, start with %s: it says in which order apps come back and what must exist first (the repository, the Secrets below, the snapshot class).", app.Name, markdown.Link("the site-wide page", "README.md")),
		"If Argo CD or Flux syncs this namespace with self-heal, pause it until step 5: it would scale the workloads up again and undo the suspended CronJobs.",
		"You need rights in the namespace to scale workloads, patch CronJobs and create Jobs, ServiceAccounts, Roles and RoleBindings (to create a Role, Kubernetes wants you to hold its rights yourself).",
		rb.preflightItem(),
	}
	if len(restores) > 1 {
		items = append(items, "Restore all stores below from backups of the same night: the app expects its stores to agree with each other.")
	}
	if snapshots {
		item := "A CSI VolumeSnapshot lives on the same storage system as its volume: it protects against deleted or damaged data, not against losing that storage system. If the storage is gone, so are the snapshots."
		var only []string
		for _, r := range restores {
			st := r.Step
			if st.Kind.Traits().VolumeSnapshots && !slices.ContainsFunc(restores, func(o *kinds.RestoreJob) bool { return o.Step.Kind.Traits().Export && o.Step.Store.ID == st.Store.ID }) {
				only = append(only, markdown.Code(st.Store.Connection.Claim))
			}
		}
		if len(only) > 0 {
			item += fmt.Sprintf(" This site keeps no other copy of %s: with the storage system, that data is lost, unless the storage system itself is replicated or backed up.", strings.Join(only, ", "))
		}
		items = append(items, item)
	}
	m.Numbered(items...)
	if len(rows) > 0 {
		m.Para("The restore Jobs read these Secrets; check that they exist (a missing one stops the Job's pod from starting):")
		m.Table([]string{"Secret", "key", "used for"}, rows)
		m.CodeBlock("sh", rb.Kubectl("get secret "+strings.Join(names, " ")))
	}
	if ws := rb.maintenanceList(restores); len(ws) > 0 {
		m.Para("Then suspend the restic maintenance of the repositories this page restores from, before you choose a backup: its weekly %s could remove the snapshot you choose between step 2 and step 4 (the restore Jobs read without a lock). Record whether it is suspended now in %s (step 5 puts that back), suspend it, and wait until a run that already started has ended:",
			markdown.Code("restic forget --prune"), markdown.Code(rb.Note(app.ID+"-maintenance.txt")))
		m.CodeBlock("sh", rb.RecordCommand(ws, rb.Note(app.ID+"-maintenance.txt"))+"\n"+rb.StopCommands(ws))
	}
}

// maintenanceList is the restic maintenance CronJobs of the targets the
// restores read from, as workloads the stop and start commands take.
// Suspending them for the whole restore, not a lock per command, keeps
// the snapshot chosen in step 2 until step 4 has restored it; a shared
// lock would hold only while one Job runs.
func (rb *runbooks) maintenanceList(restores []*kinds.RestoreJob) []schema.Workload {
	var ws []schema.Workload
	for _, mj := range rb.plan.Maintenance {
		if slices.ContainsFunc(restores, func(r *kinds.RestoreJob) bool { return r.Step.UsesRestic() && r.Step.TargetName == mj.TargetName }) {
			ws = append(ws, schema.Workload{Kind: "CronJob", Name: mj.Name, Confidence: "confirmed", Source: "generated by odbackup: cronjobs/" + mj.Name + ".yaml"})
		}
	}
	return ws
}

// secretUse says what a Secret key is for in a restore.
func (rb *runbooks) secretUse(ref schema.SecretKeyRef, restores []*kinds.RestoreJob) string {
	var uses []string
	for _, r := range restores {
		for _, e := range rb.restoreEnv(r) {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != ref.Name || e.ValueFrom.SecretKeyRef.Key != ref.Key {
				continue
			}
			uses = append(uses, envPurpose(e.Name))
		}
	}
	slices.Sort(uses)
	return strings.Join(slices.Compact(uses), "; ")
}

// envPurpose explains an environment variable the restore Jobs set from a
// Secret.
func envPurpose(name string) string {
	switch name {
	case "RESTIC_PASSWORD":
		return "opens the restic repository"
	case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY":
		return "S3 credentials of the restic repository"
	case "RESTIC_REST_USERNAME", "RESTIC_REST_PASSWORD":
		return "login to the restic REST server"
	case "PGPASSWORD":
		return "the app's PostgreSQL user"
	case "MYSQL_PWD":
		return "the MariaDB user"
	case "RCLONE_CONFIG_SOURCE_SECRET_ACCESS_KEY":
		return "the app's bucket"
	case "RCLONE_CONFIG_MIRROR_ACCESS_KEY_ID", "RCLONE_CONFIG_MIRROR_SECRET_ACCESS_KEY":
		return "S3 credentials of the bucket mirror"
	case "ODBACKUP_CRYPT_PASSWORD", "ODBACKUP_CRYPT_SALT":
		return "decrypts the bucket mirror (rclone crypt)"
	}
	return name
}

// choose explains the one decision: which backup each Job restores.
func (rb *runbooks) choose(m *markdown.Doc, restores []*kinds.RestoreJob) {
	m.Heading(2, "2. Choose the backup")
	m.Para("A restore Job restores only the backup you name: its variable %s is %s in the file, so a Job applied by accident (%s) only lists the backups. The apply commands in step 4 set it: %s for the newest backup, or the one you pick here; %s in those commands stands for what you picked, and is the only thing on this page you fill in.",
		markdown.Code("ODBACKUP_SNAPSHOT"), markdown.Code("list"), markdown.Code("kubectl apply -R -f"), markdown.Code("latest"), markdown.Code(kinds.SnapshotPlaceholder))
	var rows [][]string
	for _, r := range restores {
		rows = append(rows, []string{markdown.Code(r.Step.Store.ID), snapshotMeaning(r.Step), rb.listCommand(r.Step)})
	}
	m.Table([]string{"store", markdown.Code(kinds.SnapshotPlaceholder) + " is", "list the choices (see the site page for the tool's setup)"}, rows)
	m.Para("Without restic, rclone or cluster-wide rights on your machine, let a restore Job list the choices: with %s it prints them and stops without changing anything.", markdown.Code("ODBACKUP_SNAPSHOT=list"))
	var b strings.Builder
	for i, r := range restores {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "# %s\n%s\n%s%s\n", r.Step.Store.ID, chosenApply(r, "list"), rb.logsCommand(r.Name)+"\n", "kubectl delete --filename="+r.Path)
	}
	m.CodeBlock("sh", b.String())
}

// snapshotMeaning says what <snapshot> is for a method.
func snapshotMeaning(st *plan.Step) string { return kinds.Of(st).SnapshotMeaning() }

// listCommand lists what a store could be restored from.
func (rb *runbooks) listCommand(st *plan.Step) string { return kinds.Of(st).ListCommand(rb, st) }

// stop is step 3: record, stop, wait.
func (rb *runbooks) stop(m *markdown.Doc, app *schema.SiteApp, ws []schema.Workload, file string) {
	m.Heading(2, "3. Stop %s", app.Name)
	m.Para("A running app keeps writing while its data is replaced, and its caches and open connections would keep the old state. So its workloads go to 0 replicas and its CronJobs are suspended, in this order, for the whole restore. The backup CronJobs of odbackup stop first: a backup of a half-restored app must not replace a good one.")
	workloadTable(m, ws)
	m.Para("First record how many replicas each workload runs now (and whether each CronJob is suspended) in %s; step 5 puts exactly that back:", markdown.Code(file))
	m.CodeBlock("sh", rb.RecordCommand(ws, file))
	m.Para("Then stop them and wait until their pods are gone. A Job that a CronJob started before it was suspended runs to its end: %s shows it; wait for it too.", markdown.Code(rb.Kubectl("get jobs")))
	m.CodeBlock("sh", rb.StopCommands(ws))
}

// verify is step 6: the catalog's checks for the app and generic checks
// per store.
func (rb *runbooks) verify(m *markdown.Doc, app *schema.SiteApp, restores []*kinds.RestoreJob) {
	m.Heading(2, "6. Verify")
	if len(app.Verify) > 0 {
		m.Para("Check that %s works on the restored data:", app.Name)
		for _, c := range app.Verify {
			m.Para("**%s.** Expect %s.", strings.TrimSuffix(c.Description, "."), c.Expect)
			m.CodeBlock("sh", rb.checkCommand(app, c))
		}
		if slices.ContainsFunc(app.Verify, func(c schema.Check) bool { return c.HTTPGet != "" }) {
			m.Para("The HTTP checks run in a throw-away Pod (image %s) that is deleted when it ends. If the namespace's network policies keep it from reaching the service, run the check from a pod of the app instead.", markdown.Code(rb.pol.Images.Busybox))
		}
	}
	m.Para("And per store:")
	var items []string
	for _, r := range restores {
		items = append(items, rb.storeCheck(r))
	}
	m.List(items...)
}

// storeCheck is a generic check that one restore took effect.
func (rb *runbooks) storeCheck(r *kinds.RestoreJob) string { return kinds.Of(r.Step).StoreCheck(rb, r) }

// failure says what to do when a restore goes wrong.
func (rb *runbooks) failure(m *markdown.Doc, app *schema.SiteApp) {
	m.Heading(2, "If a restore Job fails")
	m.List(
		"Its log says why: the "+markdown.Code("kubectl logs")+" command of its step shows it again. The Job does not retry on its own, and the app stays stopped.",
		"Fix the cause (a missing Secret, an unreachable repository, a workload still running), delete the Job with the "+markdown.Code("kubectl delete")+" command of its step, and apply it again. Every restore Job can run again: it replaces what it restores as a whole.",
		"A PostgreSQL restore is all or nothing. A MariaDB, bucket or Cassandra restore that stopped half-way has restored part of the data: run it again to the end before you start "+app.Name+".",
	)
}

// preflightItem tells the operator how to check that the namespace holds
// everything a runbook's commands and Jobs use, before the first step.
func (rb *runbooks) preflightItem() string {
	return fmt.Sprintf("Check that the namespace holds everything this page uses: in the folder that holds the site's policy, %s exits 0 when every Secret and key, claim, workload and Service is there, and otherwise names what is missing and which restore Job or step needs it.",
		markdown.Code("odbackup preflight "+shell.Quote(rb.policyFile())+` --kubeconfig "$KUBECONFIG"`))
}

// policyFile is the site's policy as commands in a runbook name it: its
// file name only, so the output does not depend on where build ran.
func (rb *runbooks) policyFile() string { return path.Base(rb.site.File) }

// drillWords says, for a runbook, how a step's backups are drilled: the
// drill's schedule and what it checks, that the policy turned it off and
// why, or that the kind has no drill.
func (rb *runbooks) drillWords(st *plan.Step) string {
	if d := rb.plan.DrillOf(st); d != nil {
		return fmt.Sprintf("CronJob %s, cron %s (%s): %s", markdown.Code(d.Name), markdown.Code(d.Schedule), rb.pol.Schedule.TimeZone, st.Kind.(kinds.DrillKind).DrillChecks(st))
	}
	if off := rb.plan.DrillOffOf(st); off != nil {
		return "**off** by the site's decision: " + off.Reason
	}
	nouns := kinds.DrillNouns()
	return fmt.Sprintf("none: this kind of backup has no drill (odbackup drills %s and %s)", strings.Join(nouns[:len(nouns)-1], ", "), nouns[len(nouns)-1])
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Plan is the site's plan.
func (rb *runbooks) Plan() *plan.Plan { return rb.plan }

// Policy is the site's policy.
func (rb *runbooks) Policy() *schema.Policy { return rb.pol }

// Restores are every restore Job of the site.
func (rb *runbooks) Restores() []*kinds.RestoreJob { return rb.restores }
