package generator

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
)

// execExport streams a command's output in a running pod into restic
// (openLDAP's slapcat): a logical export beside a store's own kind, and the
// fallback when its volume is lost.
type execExport struct{ resticKind }

// methodExecExport names the kind.
const methodExecExport plan.Method = "exec-export"

func (execExport) Method() plan.Method { return methodExecExport }

func (execExport) Backs(st *schema.SiteStore) bool { return st.Export != nil }

// GroupOrder: an export is a logical dump, like a database's; a store
// with an export has its own kind too, which the registry lists first.
func (execExport) GroupOrder() int { return 1 }

func (execExport) Traits() plan.Traits { return plan.Traits{Restic: true, Export: true} }

func (execExport) backupContainer(g *generation, st *Step) containerPlan {
	pol := g.plan.Site.Policy
	return containerPlan{image: pol.Images.Kubectl, busybox: true, restic: true, api: true, script: execExportScript(st), env: []corev1.EnvVar{literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (execExport) backupRules(st *Step, add backupRule) {
	add("", "pods", []string{"get"}, st.Store.Export.Pod)
	add("", "pods/exec", []string{"create", "get"}, st.Store.Export.Pod)
}

func (execExport) restoreContainer(g *generation, _ *Step) containerPlan {
	pol := g.plan.Site.Policy
	return containerPlan{image: pol.Images.Kubectl, busybox: true, restic: true, api: true, env: []corev1.EnvVar{literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (execExport) restoreScript(r *RestoreJob) string { return exportRestoreScript(r) }

func (execExport) restoreRules(r *RestoreJob, named restoreRule, _ func()) {
	st := r.Step
	named("", "pods", []string{"get"}, st.Store.Export.Pod)
	named("", "pods/exec", []string{"create", "get"}, st.Store.Export.Pod)
}

// restoreBase: an export is named after its file, "export-ldap-primary".
func (execExport) restoreBase(st *Step) string {
	f := st.Store.Export.Filename
	return "export-" + labelWords(strings.TrimSuffix(f, path.Ext(f)))
}

func (execExport) restoreTarget(r *RestoreJob) (noun, name, kind string) {
	return "export", r.Step.Store.Export.Filename, "only if the volume is lost"
}

func (execExport) runbookSection(rb *runbooks, m *markdown, app *schema.SiteApp, r *RestoreJob) {
	rb.exportSection(m, app, r)
}

func (execExport) storeCheck(_ *runbooks, r *RestoreJob) string {
	return fmt.Sprintf("%s: the Job's log counts the entries it copied; after loading, %s counts the same.", code(r.Step.Store.ID), code("slapcat -n 1 | grep -c '^dn: '"))
}

// exportEndMarker is the line the pod prints after an export command
// succeeded; for LDIF it is a comment, so even a stray copy is harmless.
func exportEndMarker(e *schema.Export) string {
	return "# odbackup: end of export " + e.Filename
}

// execExportScript streams the export into restic through a check.
// kubectl exec can end a stream early and still exit 0 (kubernetes#124571,
// #73056), and restic --stdin-from-command stores whatever a command
// printed when it exits 0. So the pod prints an end marker after the
// export command succeeded, and the command restic runs (export_check)
// passes the stream on one line behind, fails when the marker is not its
// last line, when nothing came before it, or, for LDIF, when the last
// entry is not ended by its blank line; the marker itself is not stored.
// A failing check makes restic store no snapshot. An LDIF that passes ends
// with a comment line that records its number of entries (ldifEntriesMark),
// which the restore drill compares with what it restored.
func execExportScript(st *Step) string {
	e := st.Store.Export
	b := resticScript(fmt.Sprintf("odbackup: %s in pod %s (%s)", e.Command, e.Pod, st.Store.ID))
	marker := exportEndMarker(e)
	inner := "set -e\n" + e.Command + "\necho " + shq(marker)
	ldif := 0
	if strings.HasSuffix(e.Filename, ".ldif") {
		ldif = 1
	}
	check := fmt.Sprintf(`set -eu
status=$(mktemp)
{
	rc=0
	kubectl --namespace="$ODBACKUP_NAMESPACE" exec %[1]s --container=%[2]s -- sh -c %[3]s || rc=$?
	echo "$rc" >"$status"
} | awk -v end=%[4]s -v ldif=%[5]d -v mark=%[6]s '
NR > 1 { print prev; last = prev; if (prev ~ /^dn:/) entries++ }
{ prev = $0 }
END {
	why = ""
	if (NR == 0) why = "the export printed nothing"
	else if (prev != end) why = "the export ended without its end marker: the stream was cut short"
	else if (NR == 1) why = "the export is empty"
	else if (ldif && last != "") why = "the last LDIF entry is cut short"
	if (why != "") { print "odbackup: " why "; nothing is stored" | "cat >&2"; exit 1 }
	if (ldif) print mark (entries + 0)
}'
rc=$(cat "$status")
rm -f "$status"
if [ "$rc" -ne 0 ]; then
	echo "odbackup: kubectl exec of the export failed (exit $rc); nothing is stored" >&2
	exit 1
fi
`, shq(e.Pod), shq(e.Container), shq(inner), shq(marker), ldif, shq(ldifEntriesMark))
	b.WriteString(shellVar("export_check", check))
	fmt.Fprintf(b, "echo %s\n", shq(fmt.Sprintf("odbackup: %s in pod %s, container %s, checked for its end marker", e.Command, e.Pod, e.Container)))
	b.WriteString(resticBackup(st, e.Filename, []string{"export=" + e.Filename}, `sh -c "$export_check"`))
	return b.String()
}

// exportRestoreScript fetches a logical export into the pod it came from,
// on the store's volume (so it survives a restart of the pod); loading it
// is a manual step the runbook describes.
func exportRestoreScript(r *RestoreJob) string {
	st := r.Step
	e := st.Store.Export
	dir := exportRestoreDir(st)
	file := path.Join(dir, e.Filename)
	count := `$(wc -c <%[2]s) bytes`
	if strings.HasSuffix(e.Filename, ".ldif") {
		count = `$(grep -c '^dn: ' %[2]s) entries`
	}
	inner := fmt.Sprintf("set -e\nmkdir -p %[1]s\ncat >%[2]s.part\nmv %[2]s.part %[2]s\necho \"odbackup: "+count+" in %[2]s\"\n", shq(dir), shq(file))
	b := resticRestoreScript(r, e.Filename+" into pod "+e.Pod, false)
	b.WriteString(podScript(inner))
	fmt.Fprintf(b, `echo "odbackup: copying %[1]s into pod %[2]s, container %[3]s, as %[4]s"
restore_stream %[5]s "$snapshot" %[6]s \
	kubectl --namespace="$ODBACKUP_NAMESPACE" exec --stdin %[7]s --container=%[8]s -- sh -c "$inner"
`, e.Filename, e.Pod, e.Container, file, shq("store="+st.Store.ID+",export="+e.Filename), shq(e.Filename), shq(e.Pod), shq(e.Container))
	return b.String()
}

// exportRestoreDir is where an export is put back in its pod: on the
// store's volume when the catalog names its mount path, else /tmp.
func exportRestoreDir(st *Step) string {
	if len(st.Store.Paths) > 0 {
		return path.Join(st.Store.Paths[0], "odbackup-restore")
	}
	return "/tmp/odbackup-restore"
}

func (rb *runbooks) exportSection(m *markdown, app *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	e := st.Store.Export
	file := path.Join(exportRestoreDir(st), e.Filename)
	m.para("Skip this step when the volume restores above worked. Use it when the VolumeSnapshots of %s are lost with the storage they lived on: every night the backup also exported the data with %s in pod %s and stored the export in restic, off the cluster.",
		code(st.Store.Connection.Claim), code(e.Command), code(e.Pod))
	if e.Slapd == nil {
		m.para("What the Job does: it streams %s of the chosen restic snapshot into pod %s (container %s) as %s, on the store's volume, and counts what it copied. It does not load it: the steps below do that by hand.",
			code(e.Filename), code(e.Pod), code(e.Container), code(file))
		m.para("The pod must run for the Job to reach it. Load the file with the tool that reads %s exports, then restart the pod.", code(e.Command))
		rb.applyCommands(m, r)
		return
	}
	s := e.Slapd
	primary := ""
	if r2 := findClaimRestore(rb.restores, st.Store.ID); r2 != nil && r2.Stopped != nil {
		primary = workloadRef(*r2.Stopped)
	}
	m.para("What the Job does: it streams %s of the chosen restic snapshot into pod %s (container %s) as %s, on the store's volume, and counts what it copied. It does not load it: the commands after it do, while %s runs (the rest of %s stays stopped from step 3, so nothing writes to the directory), and then restart the pod.",
		code(e.Filename), code(e.Pod), code(e.Container), code(file), code("slapd"), app.Name)
	m.para("When the volume itself is lost (the storage failed, or the claim is gone and no snapshot is left): skip the volume restore of %s above (it needs a claim and a snapshot), and delete what is left of the claim, so that the StatefulSet creates a new, empty one when its pod starts below:", code(st.Store.Connection.Claim))
	m.code("sh", rb.kubectl("delete pvc --ignore-not-found "+st.Store.Connection.Claim))
	if primary != "" {
		m.para("The pod must run, on its new, empty volume. Start only it (it loads openDesk's initial directory, because %s holds no database yet):", code(s.Directory))
		m.code("sh", rb.kubectl(fmt.Sprintf("scale %s --replicas=1", primary))+"\n"+rb.kubectl("rollout status --timeout=15m "+primary))
	}
	rb.applyCommands(m, r)
	dir := path.Dir(file)
	loadDir := path.Join(dir, path.Base(s.Directory))
	inner := fmt.Sprintf(`set -e
rm -rf %[1]s
mkdir %[1]s
sed -e 's#%[2]s"#%[1]s"#' -e 's#%[2]s$#%[1]s#' %[3]s >%[4]s
base=$(sed -n 's/^dn: //p' %[5]s | head -n 1)
slapadd -f %[4]s -b "$base" -q -l %[5]s
echo "loaded $(slapcat -f %[4]s -b "$base" | grep -c '^dn: ') entries"
mv %[2]s %[2]s.before-restore
mv %[1]s %[2]s`, shq(loadDir), s.Directory, shq(s.Config), shq(path.Join(dir, "slapd.conf")), shq(file))
	m.para("Then load it. %s writes database files directly and must not write to the files %s serves; so the commands below build a new database from the export next to the live one while %s keeps running (with a copy of %s that points to the new directory), print how many entries it loaded (note the number: step 6 compares with it), move it into place, and stop the pod by deleting it; its StatefulSet starts it again and %s then serves the loaded database. The directory %s keeps the fresh one.",
		code("slapadd"), code("slapd"), code("slapd"), code(s.Config), code("slapd"), code(s.Directory+".before-restore"))
	m.code("sh", rb.kubectl(fmt.Sprintf("exec %s --container=%s -- sh -c %s", e.Pod, e.Container, shq(inner)))+"\n"+
		rb.kubectl("delete pod "+e.Pod))
	m.para("The export holds the directory, not the transaction log that the UDM listener of %s follows; restore the listener's volume and the provisioning queue from snapshots of the same night where they still exist.", app.Name)
}

// findClaimRestore is the volume restore of a store, if it has one.
func findClaimRestore(restores []*RestoreJob, storeID string) *RestoreJob {
	for _, r := range restores {
		if r.Step.Store.ID == storeID && r.Step.Kind.Traits().VolumeSnapshots {
			return r
		}
	}
	return nil
}

// Drills: an LDIF export is drilled (its entries are counted against the
// count the backup recorded); other exports have nothing to check.
func (execExport) Drills(st *schema.SiteStore) bool { return isLDIF(st.Export) }

// isLDIF reports whether an export is an LDIF (slapcat).
func isLDIF(e *schema.Export) bool { return e != nil && strings.HasSuffix(e.Filename, ".ldif") }

// drillContainer checks the LDIF with busybox's tools in the busybox
// image.
func (execExport) drillContainer(g *generation, st *Step) containerPlan {
	return containerPlan{image: g.plan.Site.Policy.Images.Busybox, restic: true, script: ldifDrillScript(st)}
}

func (execExport) drillChecks(st *Step) string {
	return fmt.Sprintf("the newest %s is complete (it ends with the entry count the backup recorded) and holds that many entries", code(st.Store.Export.Filename))
}

// ldifEntriesMark starts the comment line an LDIF backup ends with: the
// number of entries the export held when it was taken. LDIF readers
// (slapadd, ldapadd) skip comment lines.
const ldifEntriesMark = "# odbackup: entries "

// ldifDrillScript restores the newest LDIF and compares its entries with
// the count its backup recorded in its last line: an LDIF cut short has
// lost that line, or holds fewer entries than it says.
func ldifDrillScript(st *Step) string {
	e := st.Store.Export
	b := drillHeader(st, "LDIF export "+e.Filename)
	b.WriteString(drillFetch(st.Job.Site, "store="+st.Store.ID+",export="+e.Filename, e.Filename, "export.ldif"))
	fmt.Fprintf(b, `recorded=$(tail -n 1 "$scratch/export.ldif" | sed -n 's/^%[1]s\([0-9][0-9]*\)$/\1/p')
if [ -z "$recorded" ]; then
	fail "the newest %[2]s does not end with the entry count its backup recorded: it was cut short"
fi
entries=$(grep -c '^dn:' "$scratch/export.ldif" || true)
if [ "$entries" -ne "$recorded" ]; then
	fail "the newest %[2]s holds $entries entries; its backup recorded $recorded"
fi
if [ "$entries" -eq 0 ]; then
	fail "the newest %[2]s holds no entries"
fi
echo "odbackup drill: $entries entries, as recorded at backup time"
`, ldifEntriesMark, e.Filename)
	b.WriteString(drillPassed(st, e.Filename+" is complete"))
	return b.String()
}
