package kinds

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// execExport streams a command's output in a running pod into restic
// (openLDAP's slapcat): a logical export beside a store's own kind, and the
// fallback when its volume is lost.
type execExport struct{ Restic }

// methodExecExport names the kind.
const methodExecExport plan.Method = "exec-export"

func (execExport) Method() plan.Method { return methodExecExport }

func (execExport) Backs(st *schema.SiteStore) bool { return st.Export != nil }

// GroupOrder: an export is a logical dump, like a database's; a store
// with an export has its own kind too, which the registry lists first.
func (execExport) GroupOrder() int { return 1 }

func (execExport) Traits() plan.Traits { return plan.Traits{Restic: true, Export: true} }

func (execExport) BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, Restic: true, API: true, Script: execExportScript(st), Env: []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (execExport) BackupRules(st *plan.Step, add BackupRule) {
	add("", "pods", []string{"get"}, st.Store.Export.Pod)
	add("", "pods/exec", []string{"create", "get"}, st.Store.Export.Pod)
}

func (execExport) RestoreContainer(g *manifest.Builder, _ *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, Restic: true, API: true, Env: []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (execExport) RestoreScript(_ *manifest.Builder, r *RestoreJob) string {
	return exportRestoreScript(r)
}

func (execExport) RestoreRules(r *RestoreJob, named RestoreRule, _ func()) {
	st := r.Step
	named("", "pods", []string{"get"}, st.Store.Export.Pod)
	named("", "pods/exec", []string{"create", "get"}, st.Store.Export.Pod)
}

// restoreBase: an export is named after its file, "export-ldap-primary".
func (execExport) RestoreBase(st *plan.Step) string {
	f := st.Store.Export.Filename
	return "export-" + labelWords(strings.TrimSuffix(f, path.Ext(f)))
}

func (execExport) RestoreTarget(r *RestoreJob) (noun, name, kind string) {
	return "export", r.Step.Store.Export.Filename, "only if the volume is lost"
}

func (execExport) RunbookSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob) {
	exportSection(rb, m, app, r)
}

func (execExport) StoreCheck(_ Runbook, r *RestoreJob) string {
	return fmt.Sprintf("%s: the Job's log counts the entries it copied; after loading, %s counts the same.", markdown.Code(r.Step.Store.ID), markdown.Code("slapcat -n 1 | grep -c '^dn: '"))
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
// passes the stream on without the marker's bytes (head -c -N) and fails
// when the marker is not its last line, when nothing came before it, or,
// for LDIF, when the last entry is not ended by its blank line. A failing
// check makes restic store no snapshot. An LDIF that passes ends with a
// comment line that records its number of entries (ldifEntriesMark), which
// the restore drill compares with what it restored.
//
// The checks read a copy of the stream (tee into two FIFOs): tail keeps
// its last bytes, grep counts the entries. The stream itself passes
// through tee and head, which copy it in blocks; an awk filter that passed
// it on line by line (one write per line) used 13 times slapcat's CPU on
// 100,000 entries (bench/ldap-path.sh) and bounded the step.
func execExportScript(st *plan.Step) string {
	e := st.Store.Export
	b := shell.ResticScript(st, fmt.Sprintf("odbackup: %s in pod %s (%s)", e.Command, e.Pod, st.Store.ID))
	marker := exportEndMarker(e)
	inner := "set -e\n" + e.Command + "\necho " + shell.Quote(marker)
	if e.Slapd != nil {
		inner = "set -e\n" + slapdRecord(e.Slapd) + e.Command + "\necho " + shell.Quote(marker)
	}
	ldif := isLDIF(e)
	// An LDIF's entries are the lines that start with "dn: ": grep -F
	// picks the candidates cheaply, the anchored pattern counts exactly.
	copies, count, counted, lastEntry, entries := `"$tmp/end.fifo"`, "", "", "", ""
	if ldif {
		copies = `"$tmp/count.fifo" "$tmp/end.fifo"`
		count = `mkfifo "$tmp/count.fifo"
{ grep -F 'dn: ' | grep -c '^dn: ' || true; } <"$tmp/count.fifo" >"$tmp/count" &
counter=$!
`
		counted = `wait "$counter"
count=$(cat "$tmp/count")
case $count in
'' | *[!0-9]*)
	echo "odbackup: counting the entries of the export failed; nothing is stored" >&2
	exit 1
	;;
esac
`
		// An export of a slapd server starts with comment lines (the
		// recorded schema), so a slapcat that printed nothing is not an
		// empty stream: it is an LDIF without entries.
		lastEntry = `elif [ "$count" -eq 0 ]; then
	why="the export holds no entries"
elif [ "$(tail -c $((m + 2)) "$end" | head -c 2 | wc -l)" -ne 2 ]; then
	why="the last LDIF entry is cut short"
`
		entries = fmt.Sprintf(`printf '%%s%%s\n' %s "$count"
`, shell.Quote(ldifEntriesMark))
	}
	check := fmt.Sprintf(`set -eu
marker=%[3]s
m=$((${#marker} + 1))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkfifo "$tmp/end.fifo"
%[4]stail -c $((m + 2)) <"$tmp/end.fifo" >"$tmp/end" &
ender=$!
{
	rc=0
	kubectl --namespace="$ODBACKUP_NAMESPACE" exec %[1]s --container=%[2]s -- sh -c %[5]s || rc=$?
	echo "$rc" >"$tmp/status"
} | tee %[8]s | head -c -"$m"
wait "$ender"
%[9]send=$tmp/end
size=$(wc -c <"$end")
why=
if [ "$size" -eq 0 ]; then
	why="the export printed nothing"
elif [ "$(tail -c "$m" "$end")" != "$marker" ] ||
	{ [ "$size" -gt "$m" ] && [ "$(tail -c $((m + 1)) "$end" | head -c 1 | wc -l)" -ne 1 ]; }; then
	why="the export ended without its end marker: the stream was cut short"
elif [ "$size" -eq "$m" ]; then
	why="the export is empty"
%[6]sfi
if [ -n "$why" ]; then
	echo "odbackup: $why; nothing is stored" >&2
	exit 1
fi
rc=$(cat "$tmp/status")
if [ "$rc" -ne 0 ]; then
	echo "odbackup: kubectl exec of the export failed (exit $rc); nothing is stored" >&2
	exit 1
fi
%[7]s`, shell.Quote(e.Pod), shell.Quote(e.Container), shell.Quote(marker), count, shell.Quote(inner), lastEntry, entries, copies, counted)
	b.WriteString(shell.Var("export_check", check))
	fmt.Fprintf(b, "echo %s\n", shell.Quote(fmt.Sprintf("odbackup: %s in pod %s, container %s, checked for its end marker", e.Command, e.Pod, e.Container)))
	b.WriteString(shell.ResticBackup(st, e.Filename, []string{"export=" + e.Filename}, `sh -c "$export_check"`))
	return b.String()
}

// Comment lines an LDIF export of a slapd server starts with: what the
// restore drill needs to load the LDIF as the live server would, recorded
// by the backup in the same file (LDIF readers skip comments).
const (
	// slapdMark starts the live configuration's modulepath and moduleload
	// lines (overlays such as memberof define attributes the entries carry).
	slapdMark = "# odbackup: slapd "
	// schemaMark starts every line of the schema files the live
	// configuration includes, in its order.
	schemaMark = "# odbackup: schema "
	// noSchemaMark says why the backup recorded no schema.
	noSchemaMark = "# odbackup: slapd configuration not recorded: "
)

// slapdRecord prints, in the pod, the slapd configuration's modules and
// schema as LDIF comment lines before the export. When the configuration
// cannot be read, the export goes on and records why (the drill then
// fails saying so): the backup of the data does not depend on what only
// the drill needs.
func slapdRecord(s *schema.Slapd) string {
	return fmt.Sprintf(`conf=%[1]s
if record=$(
	[ -r "$conf" ] || exit 1
	sed -n -E 's/^(modulepath|moduleload)[[:space:]]/%[2]s&/p' "$conf" || exit 1
	for f in $(sed -n -E 's/^include[[:space:]]+"?([^"[:space:]]+\.schema)"?[[:space:]]*$/\1/p' "$conf"); do
		[ -r "$f" ] || exit 1
		while IFS= read -r line || [ -n "$line" ]; do
			printf '%[3]s%%s\n' "$line"
		done <"$f"
	done
) && [ -n "$record" ]; then
	printf '%%s\n' "$record"
else
	echo "%[4]scannot read $conf or a schema file it includes, or it includes none"
fi
`, shell.Quote(s.Config), slapdMark, schemaMark, noSchemaMark)
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
	inner := fmt.Sprintf("set -e\nmkdir -p %[1]s\ncat >%[2]s.part\nmv %[2]s.part %[2]s\necho \"odbackup: "+count+" in %[2]s\"\n", shell.Quote(dir), shell.Quote(file))
	b := shell.ResticRestoreScript(r.Step, e.Filename+" into pod "+e.Pod, false)
	b.WriteString(shell.PodScript(inner))
	fmt.Fprintf(b, `echo "odbackup: copying %[1]s into pod %[2]s, container %[3]s, as %[4]s"
restore_stream %[5]s "$snapshot" %[6]s \
	kubectl --namespace="$ODBACKUP_NAMESPACE" exec --stdin %[7]s --container=%[8]s -- sh -c "$inner"
`, e.Filename, e.Pod, e.Container, file, shell.Quote("store="+st.Store.ID+",export="+e.Filename), shell.Quote(e.Filename), shell.Quote(e.Pod), shell.Quote(e.Container))
	return b.String()
}

// exportRestoreDir is where an export is put back in its pod: on the
// store's volume when the catalog names its mount path, else /tmp.
func exportRestoreDir(st *plan.Step) string {
	if len(st.Store.Paths) > 0 {
		return path.Join(st.Store.Paths[0], "odbackup-restore")
	}
	return "/tmp/odbackup-restore"
}

func exportSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	e := st.Store.Export
	file := path.Join(exportRestoreDir(st), e.Filename)
	m.Para("Skip this step when the volume restores above worked. Use it when the VolumeSnapshots of %s are lost with the storage they lived on: every night the backup also exported the data with %s in pod %s and stored the export in restic, off the cluster.",
		markdown.Code(st.Store.Connection.Claim), markdown.Code(e.Command), markdown.Code(e.Pod))
	if e.Slapd == nil {
		m.Para("What the Job does: it streams %s of the chosen restic snapshot into pod %s (container %s) as %s, on the store's volume, and counts what it copied. It does not load it: the steps below do that by hand.",
			markdown.Code(e.Filename), markdown.Code(e.Pod), markdown.Code(e.Container), markdown.Code(file))
		m.Para("The pod must run for the Job to reach it. Load the file with the tool that reads %s exports, then restart the pod.", markdown.Code(e.Command))
		rb.ApplyCommands(m, r)
		return
	}
	s := e.Slapd
	primary := ""
	if r2 := findClaimRestore(rb.Restores(), st.Store.ID); r2 != nil && r2.Stopped != nil {
		primary = shell.WorkloadRef(*r2.Stopped)
	}
	m.Para("What the Job does: it streams %s of the chosen restic snapshot into pod %s (container %s) as %s, on the store's volume, and counts what it copied. It does not load it: the commands after it do, while %s runs (the rest of %s stays stopped from step 3, so nothing writes to the directory), and then restart the pod.",
		markdown.Code(e.Filename), markdown.Code(e.Pod), markdown.Code(e.Container), markdown.Code(file), markdown.Code("slapd"), app.Name)
	m.Para("When the volume itself is lost (the storage failed, or the claim is gone and no snapshot is left): skip the volume restore of %s above (it needs a claim and a snapshot), and delete what is left of the claim, so that the StatefulSet creates a new, empty one when its pod starts below:", markdown.Code(st.Store.Connection.Claim))
	m.CodeBlock("sh", rb.Kubectl("delete pvc --ignore-not-found "+st.Store.Connection.Claim))
	if primary != "" {
		m.Para("The pod must run, on its new, empty volume. Start only it (it loads openDesk's initial directory, because %s holds no database yet):", markdown.Code(s.Directory))
		m.CodeBlock("sh", rb.Kubectl(fmt.Sprintf("scale %s --replicas=1", primary))+"\n"+rb.Kubectl("rollout status --timeout=15m "+primary))
	}
	rb.ApplyCommands(m, r)
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
mv %[1]s %[2]s`, shell.Quote(loadDir), s.Directory, shell.Quote(s.Config), shell.Quote(path.Join(dir, "slapd.conf")), shell.Quote(file))
	m.Para("Then load it. %s writes database files directly and must not write to the files %s serves; so the commands below build a new database from the export next to the live one while %s keeps running (with a copy of %s that points to the new directory), print how many entries it loaded (note the number: step 6 compares with it), move it into place, and stop the pod by deleting it; its StatefulSet starts it again and %s then serves the loaded database. The directory %s keeps the fresh one.",
		markdown.Code("slapadd"), markdown.Code("slapd"), markdown.Code("slapd"), markdown.Code(s.Config), markdown.Code("slapd"), markdown.Code(s.Directory+".before-restore"))
	m.CodeBlock("sh", rb.Kubectl(fmt.Sprintf("exec %s --container=%s -- sh -c %s", e.Pod, e.Container, shell.Quote(inner)))+"\n"+
		rb.Kubectl("delete pod "+e.Pod))
	m.Para("The LDIF starts with comment lines (%s, %s) that record the server's modules and schema for the restore drill, and ends with one that records its number of entries (%s); %s skips comment lines.",
		markdown.Code(strings.TrimSpace(slapdMark)+" …"), markdown.Code(strings.TrimSpace(schemaMark)+" …"), markdown.Code(ldifEntriesMark+"N"), markdown.Code("slapadd"))
	m.Para("The export holds the directory, not the transaction log that the UDM listener of %s follows; restore the listener's volume and the provisioning queue from snapshots of the same night where they still exist.", app.Name)
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

// Drills: an LDIF export of a slapd server is drilled: it loads into a
// scratch database; other exports have nothing to check.
func (execExport) Drills(st *schema.SiteStore) bool {
	return isLDIF(st.Export) && st.Export.Slapd != nil
}

// isLDIF reports whether an export is an LDIF (slapcat).
func isLDIF(e *schema.Export) bool { return e != nil && strings.HasSuffix(e.Filename, ".ldif") }

// DrillContainer loads the LDIF with the slapadd of the policy's openldap
// image (openDesk's own LDAP server image by default); busybox gives the
// script the same tools in any image.
func (execExport) DrillContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	return manifest.Container{Image: g.Plan.Site.Policy.Images.OpenLDAP, Busybox: true, Restic: true, Script: ldifDrillScript(st)}
}

func (execExport) DrillNoun() string { return "LDIF exports" }

func (execExport) DrillChecks(st *plan.Step) string {
	return fmt.Sprintf("the newest %s ends with the entry count its backup recorded and loads with %s into a scratch database in the drill's pod, with schema checking, the live server's modules and schema as the backup recorded them at the top of the LDIF; the loaded database then holds that many entries",
		markdown.Code(st.Store.Export.Filename), markdown.Code("slapadd"))
}

// ldifEntriesMark starts the comment line an LDIF backup ends with: the
// number of entries the export held when it was taken. LDIF readers
// (slapadd, ldapadd) skip comment lines.
const ldifEntriesMark = "# odbackup: entries "

// ldifDrillScript restores the newest LDIF, compares its entries with the
// count its backup recorded in its last line (an LDIF cut short has lost
// that line, or holds fewer entries than it says), and loads it with
// slapadd into a scratch database: a slapd configuration in the scratch
// folder with the live server's modules and schema, as the backup
// recorded them in the LDIF's first lines (slapdRecord), and one mdb
// database there. Schema checking stays on, so an entry the live server
// would refuse fails the drill. The live server's own configuration is
// never read: the drill needs no access to its pod.
func ldifDrillScript(st *plan.Step) string {
	e := st.Store.Export
	b := shell.DrillHeader(st, "LDIF export "+e.Filename)
	b.WriteString(shell.DrillFetch(st.Job.Site, "store="+st.Store.ID+",export="+e.Filename, e.Filename, "export.ldif"))
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
sed -n 's/^%[3]s//p' "$scratch/export.ldif" >"$scratch/schema"
if [ ! -s "$scratch/schema" ]; then
	why=$(sed -n 's/^%[4]s//p' "$scratch/export.ldif" | head -n 1)
	fail "the newest %[2]s records no slapd schema (${why:-taken before backups recorded it}): it cannot be loaded"
fi
command -v slapadd >/dev/null 2>&1 || fail "slapadd is not in this image (images.openldap)"
base=$(sed -n 's/^dn: //p' "$scratch/export.ldif" | head -n 1)
mkdir "$scratch/db"
{
	sed -n 's/^%[5]s//p' "$scratch/export.ldif"
	echo "include \"$scratch/schema\""
	echo "database mdb"
	echo "suffix \"$base\""
	echo "directory \"$scratch/db\""
	echo "maxsize 17179869184"
} >"$scratch/slapd.conf"
slapadd -f "$scratch/slapd.conf" -b "$base" -q -l "$scratch/export.ldif" >"$scratch/slapadd.log" 2>&1 || {
	cat "$scratch/slapadd.log" >&2
	fail "slapadd cannot load the newest %[2]s into a scratch database: $(grep -v '^[[:space:]]*$' "$scratch/slapadd.log" | tail -n 1)"
}
slapcat -f "$scratch/slapd.conf" -b "$base" -l "$scratch/loaded.ldif" 2>"$scratch/slapcat.log" || {
	cat "$scratch/slapcat.log" >&2
	fail "slapcat of the scratch database failed"
}
loaded=$(grep -c '^dn:' "$scratch/loaded.ldif" || true)
if [ "$loaded" -ne "$recorded" ]; then
	fail "the scratch database holds $loaded entries after slapadd; the backup recorded $recorded"
fi
echo "odbackup drill: $loaded entries loaded into a scratch database, as recorded at backup time"
`, ldifEntriesMark, e.Filename, schemaMark, noSchemaMark, slapdMark)
	b.WriteString(shell.DrillPassed(st, e.Filename+" loads with all its entries"))
	return b.String()
}
