package kinds

import (
	"fmt"
	"strings"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// csiSnapshot creates CSI VolumeSnapshots of a PVC and prunes old ones; a
// restore replaces the claim with one made from a snapshot. The copies stay
// on the cluster's own storage.
type csiSnapshot struct{ Restic }

// methodCSISnapshot names the kind.
const methodCSISnapshot plan.Method = "csi-snapshot"

func (csiSnapshot) Method() plan.Method { return methodCSISnapshot }

func (csiSnapshot) Backs(st *schema.SiteStore) bool { return st.Kind == "pvc" }

// GroupOrder: volumes last in a consistency group.
func (csiSnapshot) GroupOrder() int { return 3 }

func (csiSnapshot) Traits() plan.Traits { return plan.Traits{VolumeSnapshots: true} }

// Kept: the policy's count of newest snapshots.
func (csiSnapshot) Kept(_ schema.Retention, snap schema.Snapshot) plan.Kept {
	return plan.Kept{Snapshots: snap.Keep}
}

func (csiSnapshot) BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, API: true,
		Script: snapshotScript(st, snapshotManifest(g, st), manifest.LabelStore+"="+manifest.StoreLabel(st.Store.ID), st.Kept.Snapshots, pol.Snapshot.ReadyTimeoutSeconds),
		Env:    []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (csiSnapshot) BackupRules(_ *plan.Step, add BackupRule) {
	add("snapshot.storage.k8s.io", "volumesnapshots", []string{"create", "delete", "get", "list", "watch"}, "")
}

func (csiSnapshot) RestoreContainer(g *manifest.Builder, _ *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, API: true, Env: []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

func (csiSnapshot) RestoreScript(g *manifest.Builder, r *RestoreJob) string {
	return claimRestoreScript(g, r)
}

func (csiSnapshot) RestoreRules(r *RestoreJob, named RestoreRule, stopped func()) {
	stopped()
	// delete --wait watches the claim by name until it is gone.
	named("", "persistentvolumeclaims", []string{"delete", "get", "list", "watch"}, r.Step.Store.Connection.Claim)
	named("", "persistentvolumeclaims", []string{"create"})
	// The safety snapshot of the live claim: create, and watch for
	// kubectl wait; the admission policy allows only the store's label.
	named("snapshot.storage.k8s.io", "volumesnapshots", []string{"get", "list", "watch"})
	named("snapshot.storage.k8s.io", "volumesnapshots", []string{"create"})
}

// stoppedWorkload: the workload that mounts the claim, when the catalog
// names it.
func (csiSnapshot) StoppedWorkload(p *plan.Plan, st *plan.Step) *schema.Workload {
	return claimWorkload(p, st)
}

// claimWorkload is the workload that mounts a store's claim, when the
// catalog names it.
func claimWorkload(p *plan.Plan, st *plan.Step) *schema.Workload {
	if name := st.Store.Connection.Workload; name != "" {
		return findWorkload(p, st.Store.App, name, "")
	}
	return nil
}

func (csiSnapshot) RestoreTarget(r *RestoreJob) (noun, name, kind string) {
	return "volume", r.Step.Store.Connection.Claim, "PVC"
}

func (csiSnapshot) RunbookSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob) {
	claimSection(rb, m, app, r)
}

func (csiSnapshot) BackupWay(rb Runbook, _ *plan.Step, when string) string {
	return fmt.Sprintf("CSI VolumeSnapshot (class %s, newest %d ready ones kept) on the cluster's own storage, %s", markdown.Code(rb.Policy().Snapshot.ClassName), rb.Policy().Snapshot.Keep, when)
}

func (csiSnapshot) SnapshotMeaning() string { return "the NAME of a VolumeSnapshot that is READYTOUSE" }

func (csiSnapshot) ListCommand(rb Runbook, st *plan.Step) string {
	return markdown.Code(rb.Kubectl("get volumesnapshot --selector=" + manifest.StoreSelector(st) + " --sort-by=.metadata.creationTimestamp"))
}

func (csiSnapshot) StoreCheck(rb Runbook, r *RestoreJob) string {
	st := r.Step
	return fmt.Sprintf("%s: the claim is %s and made from the snapshot you restored: %s", markdown.Code(st.Store.ID), markdown.Code("Bound"),
		markdown.Code(rb.Kubectl(fmt.Sprintf("get pvc %s --output=jsonpath='{.status.phase} {.spec.dataSource.name}{\"\\n\"}'", st.Store.Connection.Claim))))
}

func (csiSnapshot) Glossary() [][]string {
	return [][]string{{"PVC, VolumeSnapshot", "A PersistentVolumeClaim (PVC) is a volume an app asks for by name. A VolumeSnapshot is a point-in-time copy of one, made by the storage system through its CSI driver; a new PVC can be created from it."}}
}

// snapshotScript creates a VolumeSnapshot of one PVC, waits until it is
// ready to use (failing the Job if it never is) and prunes the store's
// ready snapshots to the newest keep.
//
// A run that fails after creating its snapshot deletes it (on_failure,
// see withRun): a snapshot that never became ready is no backup, and
// left behind it would pile up run after run. Retention counts only ready
// snapshots, so broken ones never push good ones out; not-ready ones left
// by older runs are listed in the log for an operator to look at.
func snapshotScript(st *plan.Step, manifest []byte, selector string, keep, timeout int) string {
	var b strings.Builder
	b.WriteString(shell.Header(fmt.Sprintf("odbackup: CSI snapshot of PVC %s (%s)", st.Store.Connection.Claim, st.Store.ID)))
	fmt.Fprintf(&b, "snapshot=%s-$(date -u +%%Y%%m%%d-%%H%%M%%S)\n", shell.Quote(snapshotPrefix(st)))
	b.WriteString(`created=false
# shellcheck disable=SC2317 # step_end, the EXIT trap, calls it
on_failure() {
	if [ "$created" = true ]; then
		echo "odbackup: deleting VolumeSnapshot $snapshot, which this failed run created" >&2
		kubectl --namespace="$ODBACKUP_NAMESPACE" delete volumesnapshot "$snapshot"
	fi
}
echo "odbackup: creating VolumeSnapshot $snapshot"
`)
	b.WriteString("kubectl --namespace=\"$ODBACKUP_NAMESPACE\" create --filename=- <<EOF\n")
	b.Write(manifest)
	b.WriteString("EOF\ncreated=true\n")
	fmt.Fprintf(&b, `if ! kubectl --namespace="$ODBACKUP_NAMESPACE" wait --for=jsonpath='{.status.readyToUse}'=true "volumesnapshot/$snapshot" --timeout="${ODBACKUP_READY_TIMEOUT:-%d}s"; then
	echo "odbackup: VolumeSnapshot $snapshot did not become ready to use; keeping the older snapshots" >&2
	kubectl --namespace="$ODBACKUP_NAMESPACE" get volumesnapshot "$snapshot" --output=yaml >&2 || true
	exit 1
fi
kubectl --namespace="$ODBACKUP_NAMESPACE" get volumesnapshot --selector=%s --sort-by=.metadata.creationTimestamp \
	--output=jsonpath='{range .items[*]}{.metadata.name} {.status.readyToUse}{"\n"}{end}' >/tmp/snapshots
awk '$2 == "true" { print $1 }' /tmp/snapshots >/tmp/snapshots-ready
awk '$2 != "true" { print $1 }' /tmp/snapshots >/tmp/snapshots-broken
if [ -s /tmp/snapshots-broken ]; then
	echo "odbackup: these VolumeSnapshots never became ready to use; retention does not count them, delete them once you have looked at them:" >&2
	cat /tmp/snapshots-broken >&2
fi
ready=$(wc -l </tmp/snapshots-ready)
if [ "$ready" -gt %d ]; then
	echo "odbackup: pruning $((ready - %d)) old ready snapshot(s), keeping the newest %d"
	head -n "$((ready - %d))" /tmp/snapshots-ready | xargs kubectl --namespace="$ODBACKUP_NAMESPACE" delete volumesnapshot
fi
`, timeout, shell.Quote(selector), keep, keep, keep, keep)
	return b.String()
}

// snapshotPrefix starts the names of a store's VolumeSnapshots; a
// timestamp follows.
func snapshotPrefix(st *plan.Step) string {
	return plan.DNSName(63-16, st.Store.Connection.Claim)
}

// snapshotManifest is the VolumeSnapshot the snapshot script creates; its
// name comes from the script's $snapshot at run time, its namespace from
// kubectl's --namespace, like every other namespaced call of the scripts.
func snapshotManifest(g *manifest.Builder, st *plan.Step) []byte {
	return volumeSnapshotManifest(g, st, "${snapshot}", nil)
}

// volumeSnapshotManifest is a VolumeSnapshot of the store's claim named
// name (a shell expansion), with the store's labels and extra.
func volumeSnapshotManifest(g *manifest.Builder, st *plan.Step, name string, extra map[string]string) []byte {
	pol := g.Plan.Site.Policy
	labels := manifest.ObjectLabels(pol.Site, st.Store.App)
	labels[manifest.LabelStore] = manifest.StoreLabel(st.Store.ID)
	for k, v := range extra {
		labels[k] = v
	}
	vs := &snapshotv1.VolumeSnapshot{
		TypeMeta: metav1.TypeMeta{APIVersion: snapshotv1.SchemeGroupVersion.String(), Kind: "VolumeSnapshot"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      labels,
			Annotations: map[string]string{manifest.AnnotStoreID: st.Store.ID},
		},
		Spec: snapshotv1.VolumeSnapshotSpec{
			Source:                  snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To(st.Store.Connection.Claim)},
			VolumeSnapshotClassName: ptr.To(pol.Snapshot.ClassName),
		},
	}
	return g.YAML(vs)
}

// labelSafety marks the snapshot a claim restore takes of the live claim
// before replacing it: a restore of "latest" never picks it, so running a
// restore twice does not bring back what the first one replaced.
const labelSafety = "odbackup.io/safety"

// safetySnapshot is what the claim restore script needs to take its
// safety snapshot.
type safetySnapshot struct {
	// prefix starts its name; a timestamp follows.
	prefix   string
	manifest []byte
	timeout  int
}

// safetyPrefix starts the names of a store's safety snapshots.
func safetyPrefix(st *plan.Step) string {
	return plan.DNSName(63-16-len("-safety"), st.Store.Connection.Claim) + "-safety"
}

func newSafetySnapshot(g *manifest.Builder, st *plan.Step) *safetySnapshot {
	return &safetySnapshot{
		prefix:   safetyPrefix(st),
		manifest: volumeSnapshotManifest(g, st, "${safety}", map[string]string{labelSafety: "pre-restore"}),
		timeout:  g.Plan.Site.Policy.Snapshot.ReadyTimeoutSeconds,
	}
}

// claimRestoreScript swaps a claim for a new one made from a VolumeSnapshot:
// it refuses while the workload that mounts it runs, records the live
// claim, deletes it and creates it again with the snapshot as dataSource.
func claimRestoreScript(g *manifest.Builder, r *RestoreJob) string {
	st := r.Step
	claim := st.Store.Connection.Claim
	label := manifest.StoreLabel(st.Store.ID)
	var b strings.Builder
	b.WriteString(shell.Header(fmt.Sprintf("odbackup restore: PVC %s (%s) from a CSI VolumeSnapshot", claim, st.Store.ID)))
	fmt.Fprintf(&b, `snapshot=${ODBACKUP_SNAPSHOT:-latest}
tmp=${TMPDIR:-/tmp}
claim=%[1]s
selector=%[2]s
k() {
	kubectl --namespace="$ODBACKUP_NAMESPACE" "$@"
}
case $snapshot in
list)
	k get volumesnapshot --selector="$selector" --sort-by=.metadata.creationTimestamp
	echo "odbackup: nothing restored; set ODBACKUP_SNAPSHOT to latest or to a NAME of this list"
	exit 0
	;;
*[!a-z0-9.-]*)
	echo "odbackup: ODBACKUP_SNAPSHOT: $snapshot is neither latest, list nor a VolumeSnapshot name" >&2
	exit 1
	;;
latest)
	k get volumesnapshot --selector="$selector,!%[4]s" --sort-by=.metadata.creationTimestamp \
		--output=jsonpath='{range .items[*]}{.metadata.name} {.status.readyToUse}{"\n"}{end}' >"$tmp/snapshots"
	snapshot=$(awk '$2 == "true" { name = $1 } END { print name }' "$tmp/snapshots")
	if [ -z "$snapshot" ]; then
		echo "odbackup: no VolumeSnapshot with label $selector is ready to use" >&2
		exit 1
	fi
	;;
esac
if [ "$(k get volumesnapshot "$snapshot" --output=jsonpath='{.metadata.labels.odbackup\.io/store}')" != %[3]s ]; then
	echo "odbackup: VolumeSnapshot $snapshot is not a snapshot of %[5]s (label $selector)" >&2
	exit 1
fi
if [ "$(k get volumesnapshot "$snapshot" --output=jsonpath='{.status.readyToUse}')" != true ]; then
	echo "odbackup: VolumeSnapshot $snapshot is not ready to use" >&2
	exit 1
fi
`, shell.Quote(claim), shell.Quote(manifest.LabelStore+"="+label), shell.Quote(label), labelSafety, st.Store.ID)
	if w := r.Stopped; w != nil {
		b.WriteString(shell.StoppedCheck(*w))
	} else {
		b.WriteString("# The catalog names no workload for this claim: the delete below waits\n# (and times out) while a pod still mounts it.\n")
	}
	sf := newSafetySnapshot(g, st)
	fmt.Fprintf(&b, `if ! k get pvc "$claim" --output=name >/dev/null; then
	echo "odbackup: claim $claim does not exist; deploy the app so its chart creates it, stop the workload again and run this Job again" >&2
	exit 1
fi
safety=%s-$(date -u +%%Y%%m%%d-%%H%%M%%S)
echo "odbackup: first a safety snapshot of the live claim: VolumeSnapshot $safety"
k create --filename=- <<EOF
%sEOF
if ! k wait --for=jsonpath='{.status.readyToUse}'=true "volumesnapshot/$safety" --timeout="${ODBACKUP_READY_TIMEOUT:-%d}s"; then
	echo "odbackup: the safety snapshot $safety did not become ready to use; claim $claim is left as it was" >&2
	exit 1
fi
cat >"$tmp/pvc.tmpl" <<'EOF'
%sEOF
echo "odbackup: live claim $claim (the new one keeps its class, access modes, size, labels and annotations):"
k get pvc "$claim" --output=go-template-file="$tmp/pvc.tmpl" >"$tmp/live.yaml"
k get pvc "$claim" --output=jsonpath='{"volume: "}{.spec.volumeName}{"\nclass: "}{.spec.storageClassName}{"\naccess modes: "}{.spec.accessModes}{"\nsize: "}{.spec.resources.requests.storage}{"\n"}'
grep -v -e '^    "pv\.kubernetes\.io/' -e '^    "volume\.beta\.kubernetes\.io/' -e '^    "volume\.kubernetes\.io/' "$tmp/live.yaml" >"$tmp/new.yaml"
cat >>"$tmp/new.yaml" <<EOF
  dataSource:
    apiGroup: snapshot.storage.k8s.io
    kind: VolumeSnapshot
    name: $snapshot
EOF
echo "odbackup: deleting claim $claim (to go back, restore VolumeSnapshot $safety)"
k delete pvc "$claim" --wait=true --timeout=10m
echo "odbackup: creating claim $claim from VolumeSnapshot $snapshot:"
cat "$tmp/new.yaml"
k create --filename="$tmp/new.yaml"
k get pvc "$claim"
echo "odbackup: claim $claim restored from $snapshot; it binds when its workload starts; the claim as it was is VolumeSnapshot $safety"
`, shell.Quote(sf.prefix), sf.manifest, sf.timeout, shell.PVCTemplate)
	return b.String()
}

func claimSection(rb Runbook, m *markdown.Doc, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	old := rb.Note(c.Claim + "-old-volume.txt")
	workload := "the workload that mounts it"
	if r.Stopped != nil {
		workload = markdown.Code(shell.WorkloadRef(*r.Stopped))
	}
	m.Para("What the Job does: it checks that %s has 0 replicas and no pods, picks the VolumeSnapshot (with %s: the newest one labelled %s that is ready to use), checks that it belongs to this store, and prints the live claim's storage class, access modes and size. Then it deletes the claim %s and creates it again, with the same name, class, access modes, size, labels and annotations, from the snapshot (%s). The new volume is filled from the snapshot when the workload starts and mounts it.",
		workload, markdown.Code("latest"), markdown.Code(manifest.StoreSelector(st)), markdown.Code(c.Claim), markdown.Code("spec.dataSource"))
	m.Para("Why this way: a volume cannot be rolled back in place, and the workload finds its data under the claim's name; a claim made from a snapshot is how Kubernetes restores one. The snapshots are VolumeSnapshots of class %s, made by odbackup's CronJob, which keeps the newest %d that are ready to use (a run whose snapshot never becomes ready deletes it). They live on the same storage system as the volume: if that system is lost, so are they.",
		markdown.Code(rb.Policy().Snapshot.ClassName), rb.Policy().Snapshot.Keep)
	m.Para("Before it deletes the claim, the Job takes a VolumeSnapshot of it as it is, named %s and the time (its log prints the name; labelled %s, so %s never picks it), and waits until it is ready to use; if it never is, the Job stops and the claim stays. To undo the restore, run the Job again with that name as %s. The backup CronJob's pruning counts it among the store's snapshots: it goes when %d newer ones exist.",
		markdown.Code(safetyPrefix(st)+"-"), markdown.Code(labelSafety+"=pre-restore"), markdown.Code("latest"), markdown.Code(SnapshotPlaceholder), rb.Policy().Snapshot.Keep)
	m.Para("Before you run the Job, keep the current volume: deleting the claim deletes its volume when the volume's reclaim policy is %s, the usual default. Some storage systems also need the source volume for a snapshot to be usable. With the policy set to %s, the old volume stays until you delete it (this needs rights on PersistentVolumes, which are cluster-wide):", markdown.Code("Delete"), markdown.Code("Retain"))
	m.CodeBlock("sh", "mkdir -p "+rb.NotesDir()+"\n"+rb.Kubectl(fmt.Sprintf("get pvc %s --output=jsonpath='{.spec.volumeName}' | tee %s", c.Claim, old))+"\n"+
		fmt.Sprintf(`kubectl patch pv "$(cat %s)" --patch='{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'`, old))
	rb.ApplyCommands(m, r)
	m.Para("Once the app runs on the restored volume and you have verified it, delete the old one: %s.", markdown.Code(fmt.Sprintf(`kubectl delete pv "$(cat %s)"`, old)))
}
