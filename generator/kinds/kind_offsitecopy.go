package kinds

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// offsiteCopy copies a volume off its storage system: the newest CSI
// snapshot of the claim (the csiSnapshot step of the same job made it just
// before and waited for it) is cloned into a new claim, a copy pod mounts
// the clone read-only and streams its files into the site's restic target,
// and the clone and the pod are deleted on success and on failure alike.
// It never mounts the live claim, so ReadWriteOnce volumes work, and the
// app keeps running.
//
// Why a pod of its own: a pod's volumes are fixed when it is created, so
// the backup job's pod cannot mount a claim that one of its own steps
// creates. The step (a kubectl container) therefore creates the clone
// claim and a copy Pod from a manifest generated here (Pod Security
// "restricted", the restic image, the clone mounted read-only), polls the
// Pod to its end, takes its phase as the step's result and deletes both.
// The clone and the copy Pod have fixed names per claim, so RBAC names them
// (get, delete) and a leftover of a killed run is removed before the next
// run starts; the CronJob's concurrencyPolicy Forbid keeps two runs apart.
//
// The copy runs as the app's user and group (runAsUser, runAsGroup of the
// store's connection, from the catalog where the chart sets them, or from
// the policy), with the app's fsGroup as a supplemental group: a
// restricted pod cannot read another user's files, and restic records
// every file's owner, group and mode as it finds them. A file the copy
// cannot read makes restic exit 3, which fails the step.
type offsiteCopy struct{ Restic }

// methodOffsiteCopy names the kind.
const methodOffsiteCopy plan.Method = "offsite-copy"

// offsiteMountDir is where the copy pod mounts the clone and where a
// restore finds the files in a restic snapshot (restic records absolute
// paths; both sides use the same one).
const offsiteMountDir = "/data"

// offsiteSampleDir is where the copy pod writes the sample of files and
// their checksums that the restore drill checks; the backup stores it in
// the same snapshot as the files, under this path (ODBACKUP_SAMPLE_DIR in
// the copy pod and in the drill).
const offsiteSampleDir = manifest.TmpDir + "/odbackup-sample"

// offsiteSampleSize is how many files a night's sample holds: enough to
// read back files from many parts of the repository every month, few
// enough that the copy and the drill hardly notice them.
const offsiteSampleSize = 16

func (offsiteCopy) Method() plan.Method { return methodOffsiteCopy }

// Backs: volumes the policy copies off-site (schema resolves offsite).
func (offsiteCopy) Backs(st *schema.SiteStore) bool { return st.Kind == "pvc" && st.Offsite }

// GroupOrder: volumes last in a consistency group, as the snapshot.
func (offsiteCopy) GroupOrder() int { return 3 }

// Traits: the files go to restic (target, maintenance); the container,
// "offsite-<claim>", runs after the store's snapshot step.
func (offsiteCopy) Traits() plan.Traits {
	return plan.Traits{Restic: true, ContainerPrefix: "offsite-"}
}

func (offsiteCopy) BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Kubectl, Busybox: true, API: true,
		Script: offsiteScript(st, cloneManifest(g, st), copyPodManifest(g, st), pol.Snapshot),
		Env:    []corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}}
}

// backupRules: the step lists the store's snapshots and waits for one,
// reads the live claim's class and size (never mounts it), creates the
// clone and the copy pod and deletes them by name.
func (offsiteCopy) BackupRules(st *plan.Step, add BackupRule) {
	add("snapshot.storage.k8s.io", "volumesnapshots", []string{"get", "list", "watch"}, "")
	add("", "persistentvolumeclaims", []string{"get"}, st.Store.Connection.Claim)
	add("", "persistentvolumeclaims", []string{"create"}, "")
	add("", "persistentvolumeclaims", []string{"delete", "get"}, cloneName(st))
	add("", "pods", []string{"create"}, "")
	// delete --wait watches the pod by name until it is gone.
	add("", "pods", []string{"delete", "get", "list", "watch"}, copyPodName(st))
	add("", "pods/log", []string{"get"}, copyPodName(st))
}

// restoreContainer: the API only to check that the workload is stopped,
// when the catalog names it.
func (k offsiteCopy) RestoreContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	cp := manifest.Container{Image: pol.Images.Kubectl, Busybox: true, Restic: true,
		Env:    []corev1.EnvVar{manifest.Literal("ODBACKUP_SOURCE", offsiteMountDir), manifest.Literal("ODBACKUP_DATA_DIR", restoreMountDir)},
		Mounts: []corev1.VolumeMount{{Name: "data", MountPath: restoreMountDir}}}
	if k.StoppedWorkload(g.Plan, st) != nil {
		cp.API = true
		cp.Env = append([]corev1.EnvVar{manifest.Literal("ODBACKUP_NAMESPACE", pol.Namespace)}, cp.Env...)
	}
	return cp
}

func (offsiteCopy) RestoreScript(_ *manifest.Builder, r *RestoreJob) string {
	return offsiteRestoreScript(r)
}

// restorePod mounts the claim to restore into and runs as the app's pod
// does: its user, its group and its fsGroup. A restricted pod cannot give
// a file to another user, but restic restore gives each file the owner and
// group the backup recorded wherever the process may (its own user, a
// group it is a member of), so the files the app owned come back the
// app's; restic sets the modes. The fsGroup is the one the app's own pod
// applies to the claim whenever it mounts it, so setting it here changes
// nothing the app would not.
func (offsiteCopy) RestorePod(st *plan.Step, pod *corev1.PodSpec) {
	c := st.Store.Connection
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Claim},
	}})
	setOwner(pod.SecurityContext, c)
	if c.FSGroup != 0 {
		pod.SecurityContext.FSGroup = ptr.To(int64(c.FSGroup))
	}
}

func (offsiteCopy) RestoreRules(_ *RestoreJob, _ RestoreRule, stopped func()) { stopped() }

func (offsiteCopy) RestoreBase(st *plan.Step) string {
	return "files-" + labelWords(st.Store.Identifier)
}

// stoppedWorkload: the workload that mounts the claim the files go to.
func (offsiteCopy) StoppedWorkload(p *plan.Plan, st *plan.Step) *schema.Workload {
	return claimWorkload(p, st)
}

func (offsiteCopy) RestoreTarget(r *RestoreJob) (noun, name, kind string) {
	return "files of volume", r.Step.Store.Connection.Claim, "off-site copy"
}

func (offsiteCopy) RunbookSection(rb Runbook, m *markdown.Doc, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	workload := "the workload that mounts it"
	if r.Stopped != nil {
		workload = markdown.Code(shell.WorkloadRef(*r.Stopped))
	}
	m.Para("Skip this step when the volume restore from a VolumeSnapshot above worked. Use it when the VolumeSnapshots of %s are lost with the storage they lived on, or are older than the copy you need: every night the backup also cloned the newest snapshot and copied its files into restic %s, off the cluster.",
		markdown.Code(c.Claim), markdown.Code(st.Target.Restic.Repository))
	m.Para("What the Job does: it checks that %s has 0 replicas, mounts the claim %s and restores the files of the chosen restic snapshot into it with %s: files that are not in the backup are removed, the others get the backup's content and modes. Symbolic links and empty directories come back as they were.",
		workload, markdown.Code(c.Claim), markdown.Code("restic restore --delete"))
	ref := ""
	if r.Stopped != nil {
		ref = shell.WorkloadRef(*r.Stopped)
	}
	ownerPara(rb, m, st, ref)
	m.Para("When the claim is lost too, let the app's chart create it again (deploy the app, then stop its workload), then run the Job. To restore into a new claim instead, create it, change the Job's %s to its name and run the Job.", markdown.Code("claimName"))
	rb.ApplyCommands(m, r)
}

// ownerWords names the user and groups the restore Job runs as.
func ownerWords(c schema.Connection) string {
	user := fmt.Sprintf("user %d, group %d", c.RunAsUser, ownerGroup(c))
	if c.RunAsUser == 0 {
		user = fmt.Sprintf("user %d, group %d, odbackup's own", manifest.RunAsUser, ownerGroup(c))
	}
	if c.FSGroup != 0 {
		user += fmt.Sprintf(", fsGroup %d", c.FSGroup)
	}
	return user
}

// ownerPara says whose the restored files are: the app's where the
// catalog or the policy names its user; odbackup's own for an app that
// runs as root, with how to give them back; otherwise how the operator
// finds the app's user and where it goes.
func ownerPara(rb Runbook, m *markdown.Doc, st *plan.Step, workload string) {
	c := st.Store.Connection
	lsLong := markdown.Code("restic ls --long")
	switch {
	case c.RunAsUser != 0:
		from := ""
		if c.Owner != "" {
			from = " (" + c.Owner + ")"
		}
		m.Para("The Job runs as %s, as the app's pod does%s. restic gives every file the owner and group the backup recorded wherever the Job may: files of user %d in a group the Job is a member of come back exactly. A file the backup recorded with another owner (root's, another user's) comes back as user %d's; %s of the snapshot lists the recorded owners.",
			ownerWords(c), from, c.RunAsUser, c.RunAsUser, lsLong)
		return
	case c.RunAsRoot:
		chown := markdown.Code("chown")
		if workload != "" {
			chown = markdown.Code(rb.Kubectl("exec " + workload + " -- chown"))
		}
		m.Para("The app runs as root (%s). A Pod Security \"restricted\" pod cannot run as root, so the Job runs as %s: every file it restores is user %d's, with its recorded group where the Job is a member of it. After the Job, give the files back to the owners the backup recorded (%s of the snapshot lists them) with %s from the app's own container, which runs as root, then restart the app.",
			c.Owner, ownerWords(c), manifest.RunAsUser, lsLong, chown)
		return
	}
	why := "neither the catalog nor the site's policy names the app's user"
	if c.Owner != "" {
		why += " (" + c.Owner + ")"
	}
	m.Para("The Job runs as %s, because %s: the files it writes are user %d's, and the app may not be able to read or write them. Before you run it, find the user and group the app runs as and put them into the site's policy.",
		ownerWords(c), why, manifest.RunAsUser)
	if workload != "" && len(st.Store.Paths) > 0 {
		m.Para("The workload's securityContext, and the owners of the files as the app keeps them (while it runs):")
		m.CodeBlock("sh", rb.Kubectl(fmt.Sprintf(`get %s --output=jsonpath='{.spec.template.spec.securityContext}{"\n"}{range .spec.template.spec.containers[*]}{.name}: {.securityContext}{"\n"}{end}'`, workload))+"\n"+
			rb.Kubectl(fmt.Sprintf("exec %s -- stat -c '%%u:%%g %%a %%n' %s", workload, strings.Join(st.Store.Paths, " "))))
	} else {
		m.Para("Read them in the securityContext of the pod that mounts the claim (%s), or as the numbers %s shows in its mount path.",
			markdown.Code(rb.Kubectl("get pods --output=yaml")), markdown.Code("stat -c '%u:%g'"))
	}
	m.Para("Where the securityContext names no user, the image's user decides: the owners %s shows (or %s of the snapshot lists) are the ones to use. Set them as runAsUser, runAsGroup and (if the pod sets one) fsGroup of %s in the site's policy, run %s and apply the new Job. User 0 (root) cannot be set: a Pod Security \"restricted\" pod cannot run as root, so for an app that runs as root the Job writes the files as user %d, and the app's own container (it runs as root) gives them back to their owners after the restore.",
		markdown.Code("stat"), lsLong, markdown.Code(fmt.Sprintf(`stores: %q: connection`, st.Store.ID)), markdown.Code("odbackup build"), manifest.RunAsUser)
}

func (offsiteCopy) BackupWay(_ Runbook, st *plan.Step, when string) string {
	return fmt.Sprintf("a clone of the newest VolumeSnapshot, its files copied into restic %s (target %s), %s", markdown.Code(st.Target.Restic.Repository), markdown.Code(st.TargetName), when)
}

func (offsiteCopy) StoreCheck(rb Runbook, r *RestoreJob) string {
	return fmt.Sprintf("%s: the Job completed; its log ends with %s.", markdown.Code(r.Step.Store.ID), markdown.Code("odbackup: files restored"))
}

func (offsiteCopy) Glossary() [][]string {
	return [][]string{{"clone, off-site copy", "A clone is a new PVC made from a VolumeSnapshot. The off-site copy mounts a clone read-only in a pod of its own and stores its files in restic, off the storage system; the clone is deleted afterwards."}}
}

// cloneName and copyPodName are fixed per claim, so RBAC can name them.
func cloneName(st *plan.Step) string {
	return plan.DNSName(63, "odbackup-clone", st.Store.Connection.Claim)
}
func copyPodName(st *plan.Step) string {
	return plan.DNSName(63, "odbackup-copy", st.Store.Connection.Claim)
}

// setOwner runs a pod as the app's user and group where they are known
// (odbackup's own user otherwise).
func setOwner(sc *corev1.PodSecurityContext, c schema.Connection) {
	if c.RunAsUser != 0 {
		sc.RunAsUser = ptr.To(int64(c.RunAsUser))
	}
	sc.RunAsGroup = ptr.To(int64(ownerGroup(c)))
}

// ownerGroup is the group the app runs as; without one, the user's number
// (odbackup's own user's without a user).
func ownerGroup(c schema.Connection) int {
	switch {
	case c.RunAsGroup != 0:
		return c.RunAsGroup
	case c.RunAsUser != 0:
		return c.RunAsUser
	}
	return manifest.RunAsUser
}

// Placeholders the step's script fills in at run time; the manifests are
// built from Kubernetes' own types, whose Quantity cannot hold a variable.
const (
	cloneSizeSentinel = "424242424242"
	cloneSizeVar      = "${size}"
)

// cloneManifest is the clone claim: the snapshot as dataSource, the source
// claim's class (or snapshot.cloneStorageClass) and size, ReadWriteOnce.
func cloneManifest(g *manifest.Builder, st *plan.Step) []byte {
	pol := g.Plan.Site.Policy
	labels := manifest.ObjectLabels(pol.Site, st.Store.App)
	labels[manifest.LabelStore] = manifest.StoreLabel(st.Store.ID)
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: cloneName(st), Labels: labels,
			Annotations: map[string]string{manifest.AnnotStoreID: st.Store.ID}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To("${class}"),
			DataSource:       &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "${snapshot}"},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse(cloneSizeSentinel)}},
		},
	}
	return []byte(strings.Replace(string(g.YAML(pvc)), cloneSizeSentinel, cloneSizeVar, 1))
}

// copyPodManifest is the pod that copies the clone's files into restic:
// the restic image, the clone mounted read-only, Pod Security
// "restricted", no API token, the volume owner's user and group.
func copyPodManifest(g *manifest.Builder, st *plan.Step) []byte {
	return g.YAML(offsiteCopy{}.CreatedPod(g, st))
}

// CreatedPod is the copy pod (see copyPodManifest); the admission policy
// of the step's account lets it create only pods like it.
func (offsiteCopy) CreatedPod(g *manifest.Builder, st *plan.Step) *corev1.Pod {
	pol := g.Plan.Site.Policy
	labels := manifest.ObjectLabels(pol.Site, st.Store.App)
	labels[manifest.LabelStore] = manifest.StoreLabel(st.Store.ID)
	labels[manifest.LabelJob] = st.Job.Name
	env := append([]corev1.EnvVar{manifest.Literal("HOME", manifest.TmpDir), manifest.Literal("ODBACKUP_SOURCE", offsiteMountDir),
		manifest.Literal("ODBACKUP_SAMPLE_DIR", offsiteSampleDir)}, manifest.ResticEnv(st.Target)...)
	sc := manifest.PodSecurityContext()
	c := st.Store.Connection
	setOwner(sc, c)
	// The app's fsGroup as a supplemental group reads what the app's pod
	// made group-readable; not as fsGroup, which would have the kubelet
	// change the clone's files before restic records their owners.
	if c.FSGroup != 0 && c.FSGroup != ownerGroup(c) {
		sc.SupplementalGroups = []int64{int64(c.FSGroup)}
	}
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: copyPodName(st), Labels: labels,
			Annotations: map[string]string{manifest.AnnotStoreID: st.Store.ID}},
		Spec: corev1.PodSpec{
			ServiceAccountName:           st.Job.Name,
			AutomountServiceAccountToken: ptr.To(false),
			RestartPolicy:                corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:        ptr.To(int64(pol.Snapshot.CopyTimeoutSeconds)),
			SecurityContext:              sc,
			Containers: []corev1.Container{manifest.RestrictedContainer(corev1.Container{
				Name: "copy", Image: pol.Images.Restic,
				Command:   []string{"/bin/sh", "-c", manifest.BlockScalar(offsiteCopyScript(st))},
				Env:       env,
				Resources: g.Resources(st.Job.Resources),
				VolumeMounts: []corev1.VolumeMount{
					{Name: "clone", MountPath: offsiteMountDir, ReadOnly: true},
					{Name: "tmp", MountPath: manifest.TmpDir},
				},
			})},
			Volumes: []corev1.Volume{
				{Name: "clone", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: cloneName(st), ReadOnly: true}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
	return pod
}

// offsiteCopyScript runs in the copy pod: the clone's files into restic,
// tagged per store and scoped to the site, as one snapshot of
// $ODBACKUP_SOURCE and the drill's sample (the same paths every night, so
// restic finds its parent and stores only what changed).
func offsiteCopyScript(st *plan.Step) string {
	b := shell.ResticScript(st, fmt.Sprintf("odbackup: files of a clone of PVC %s into restic (%s)", st.Store.Connection.Claim, st.Store.ID))
	fmt.Fprintf(b, offsiteSampleScript, offsiteSampleSize)
	fmt.Fprintf(b, "restic_backup --host=%s --tag=odbackup --tag=%s --tag=%s --tag=claim=%s \\\n\t--one-file-system \"$ODBACKUP_SOURCE\" \"$ODBACKUP_SAMPLE_DIR\"\n",
		shell.Quote(st.Job.Site), shell.Quote("app="+st.Store.App), shell.Quote("store="+st.Store.ID), shell.Quote(st.Store.Connection.Claim))
	b.WriteString("echo \"odbackup: files copied\"\n")
	return b.String()
}

// offsiteScript is the step: pick the newest snapshot of the claim, wait
// until it is ready, clone it, run the copy pod, delete both.
func offsiteScript(st *plan.Step, clone, pod []byte, snap schema.Snapshot) string {
	var b strings.Builder
	b.WriteString(shell.Header(fmt.Sprintf("odbackup: off-site copy of PVC %s (%s): snapshot, clone, restic", st.Store.Connection.Claim, st.Store.ID)))
	classLine := `class=$(k get pvc "$source" --output=jsonpath='{.spec.storageClassName}')`
	if snap.CloneStorageClass != "" {
		classLine = "class=" + shell.Quote(snap.CloneStorageClass)
	}
	fmt.Fprintf(&b, `source=%s
clone=%s
pod=%s
selector=%s
limit=${ODBACKUP_COPY_TIMEOUT:-%d}
k() {
	kubectl --namespace="$ODBACKUP_NAMESPACE" "$@"
}
# remove deletes the copy pod, then the clone; it reports what it could
# not delete, so a clone is never left behind without a word.
remove() {
	failed=0
	if k get pod "$pod" --output=name >/dev/null 2>&1; then
		k delete pod "$pod" --wait=true --timeout=5m || failed=1
	fi
	if k get pvc "$clone" --output=name >/dev/null 2>&1; then
		k delete pvc "$clone" --wait=false || failed=1
	fi
	if [ "$failed" -ne 0 ]; then
		echo "odbackup: could not delete the copy pod $pod or the clone $clone; delete them by hand" >&2
	fi
	return "$failed"
}
finish() {
	rc=$?
	trap - EXIT
	remove || rc=1
	exit "$rc"
}
remove
trap finish EXIT
trap 'exit 1' HUP INT TERM
snapshot=$(k get volumesnapshot --selector="$selector" --sort-by=.metadata.creationTimestamp --output=jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | tail -n 1)
if [ -z "$snapshot" ]; then
	echo "odbackup: no VolumeSnapshot with label $selector to copy" >&2
	exit 1
fi
echo "odbackup: copying VolumeSnapshot $snapshot off-site"
if ! k wait --for=jsonpath='{.status.readyToUse}'=true "volumesnapshot/$snapshot" --timeout="${ODBACKUP_READY_TIMEOUT:-%d}s"; then
	echo "odbackup: VolumeSnapshot $snapshot did not become ready to use; no clone made" >&2
	exit 1
fi
%s
size=$(k get volumesnapshot "$snapshot" --output=jsonpath='{.status.restoreSize}')
if [ -z "$size" ]; then
	size=$(k get pvc "$source" --output=jsonpath='{.spec.resources.requests.storage}')
fi
echo "odbackup: creating clone $clone (class $class, $size) from $snapshot"
k create --filename=- <<EOF
`, shell.Quote(st.Store.Connection.Claim), shell.Quote(cloneName(st)), shell.Quote(copyPodName(st)), shell.Quote(manifest.LabelStore+"="+manifest.StoreLabel(st.Store.ID)),
		snap.CopyTimeoutSeconds, snap.ReadyTimeoutSeconds, classLine)
	b.Write(clone)
	b.WriteString("EOF\necho \"odbackup: starting copy pod $pod\"\nk create --filename=- <<'EOF'\n")
	b.Write(pod)
	b.WriteString(`EOF
# The pod's phase is the copy's result: Succeeded or Failed (restic's exit
# code, or the pod's deadline). A clone that never binds leaves it Pending
# until the limit.
waited=0
while :; do
	phase=$(k get pod "$pod" --output=jsonpath='{.status.phase}')
	case $phase in
	Succeeded) break ;;
	Failed)
		echo "odbackup: the copy pod $pod failed; its log:" >&2
		k logs "$pod" >&2 || true
		exit 1
		;;
	esac
	if [ "$waited" -ge "$limit" ]; then
		echo "odbackup: the copy pod $pod did not finish within $limit s (phase: ${phase:-none})" >&2
		k get pvc "$clone" >&2 || true
		exit 1
	fi
	sleep 5
	waited=$((waited + 5))
done
k logs "$pod" || true
echo "odbackup: VolumeSnapshot $snapshot copied off-site; deleting the clone"
`)
	return b.String()
}

// offsiteRestoreScript restores the files of a restic snapshot into the
// stopped workload's claim: restic restore --delete makes the volume equal
// to the backup (content, modes, symlinks, empty directories); the Job runs
// as the volume's owner, so the files are the app's.
func offsiteRestoreScript(r *RestoreJob) string {
	st := r.Step
	b := new(strings.Builder)
	b.WriteString(shell.Header(fmt.Sprintf("odbackup restore: files of PVC %s from its off-site copy (%s)", st.Store.Connection.Claim, st.Store.ID)))
	b.WriteString("snapshot=${ODBACKUP_SNAPSHOT:-latest}\n")
	b.WriteString(shell.CheckSnapshotsFunc(st.Job.Site, st.Store.ID, false))
	// Listing (the Job applied as it is) works while the app runs; only
	// a restore needs it stopped.
	b.WriteString("check_snapshots\n")
	if w := r.Stopped; w != nil {
		b.WriteString("k() {\n\tkubectl --namespace=\"$ODBACKUP_NAMESPACE\" \"$@\"\n}\n")
		b.WriteString(shell.StoppedCheck(*w))
	} else {
		b.WriteString("# The catalog names no workload for this claim: stop what mounts it first.\n")
	}
	fmt.Fprintf(b, `echo "odbackup: restoring $snapshot into claim %s as user $(id -u), group $(id -g)"
restic restore --no-lock --host=%s --tag=%s --delete --target="$ODBACKUP_DATA_DIR" "$snapshot:$ODBACKUP_SOURCE"
echo "odbackup: files restored"
`, st.Store.Connection.Claim, shell.Quote(st.Job.Site), shell.Quote("store="+st.Store.ID))
	return b.String()
}

// offsiteSampleScript (its %d: offsiteSampleSize) records, before the
// backup, a sample of the clone's files picked at random (another sample
// every night, so the drills read back files from all over the
// repository in time) with their SHA-256 sums in
// $ODBACKUP_SAMPLE_DIR/sample.sha256, which restic stores in the same
// snapshot as the files. The clone does not change while it is read, so
// the sums are those of the bytes restic stores. The first line says how
// many files the sample lists and how many the volume has, so a drill
// notices a sample cut short. Names with a newline are left out (the list
// has one name a line); the list goes from find to awk through a pipe,
// whose status is lost: a folder find cannot read, restic cannot read
// either, and restic's run right after fails on it (exit 3).
const offsiteSampleScript = `# A sample of the clone's files and their SHA-256 sums goes into the same
# snapshot, for the restore drill to check what it restores against.
sample_dir=$ODBACKUP_SAMPLE_DIR
mkdir -p "$sample_dir"
find "$ODBACKUP_SOURCE" -xdev -type f ! -name "$(printf '*\n*')" |
	awk -v k=%d -v count="$sample_dir/count" 'BEGIN { srand() }
	{ n++; if (n <= k) s[n] = $0; else { r = int(rand() * n) + 1; if (r <= k) s[r] = $0 } }
	END { print n + 0 > count; for (i = 1; i <= n && i <= k; i++) print s[i] }' >"$sample_dir/picked"
total=$(cat "$sample_dir/count")
picked=$(wc -l <"$sample_dir/picked")
{
	echo "# odbackup sample: $((picked)) of $total files, SHA-256"
	while IFS= read -r file; do
		sum=$(sha256sum <"$file") || {
			echo "odbackup: cannot read $file for the restore drill's sample" >&2
			exit 1
		}
		printf '%%s %%s\n' "${sum%%%% *}" "$file"
	done <"$sample_dir/picked"
} >"$sample_dir/sample.sha256"
rm -f "$sample_dir/count" "$sample_dir/picked"
echo "odbackup: $((picked)) of the $total files sampled for the restore drill"
`

// Drills: every off-site copy is drilled: a sample of its files.
func (offsiteCopy) Drills(*schema.SiteStore) bool { return true }

// DrillContainer runs the drill in the restic image (its busybox has
// sha256sum); it reads only the repository, never a claim.
func (offsiteCopy) DrillContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	return manifest.Container{Image: g.Plan.Site.Policy.Images.Restic, Script: offsiteDrillScript(st),
		Env: []corev1.EnvVar{manifest.Literal("ODBACKUP_SAMPLE_DIR", offsiteSampleDir)}}
}

func (offsiteCopy) DrillNoun() string { return "off-site copies of volumes" }

func (offsiteCopy) DrillChecks(*plan.Step) string {
	return fmt.Sprintf("up to %d files the newest off-site copy sampled at random restore from restic and match the SHA-256 sums the copy recorded of the clone", offsiteSampleSize)
}

// offsiteDrillScript reads the sample the newest copy recorded and
// restores each sampled file from that one snapshot (resolved once, so a
// copy that lands meanwhile cannot mix in), streaming it into sha256sum:
// a sampled file of many GiB needs no scratch space. Every call names the
// site and the store besides the snapshot, as every drill's does. restic dump takes
// the path exactly (restic restore --include would read it as a
// pattern); its failure reaches the script through a file, as the pipe
// loses it.
func offsiteDrillScript(st *plan.Step) string {
	b := shell.DrillHeader(st, "files of PVC "+st.Store.Connection.Claim)
	fmt.Fprintf(b, `json=$(restic snapshots --no-lock --host=%[1]s --tag=%[2]s --json latest </dev/null) ||
	fail "restic cannot list the snapshots of the repository"
id=$(printf '%%s\n' "$json" | %[5]s) || true
if [ -z "$id" ]; then
	fail "the repository holds no off-site copy of this volume for site %[3]s"
fi
short=$(printf '%%.8s' "$id")
if ! restic dump --no-lock --host=%[1]s --tag=%[2]s "$id" "$ODBACKUP_SAMPLE_DIR/sample.sha256" >"$scratch/sample.sha256" </dev/null; then
	fail "the newest off-site copy (snapshot $short) holds no sample of checksums to check: it was made before odbackup recorded one, or the repository cannot be read"
fi
header=$(head -n 1 "$scratch/sample.sha256")
case $header in
"# odbackup sample: "*" of "*" files, SHA-256") ;;
*) fail "the sample of snapshot $short does not start with its header: it is not one odbackup wrote" ;;
esac
want=${header#"# odbackup sample: "}
want=${want%%%% *}
total=${header#*" of "}
total=${total%%%% *}
listed=$(($(wc -l <"$scratch/sample.sha256") - 1))
if [ "$listed" -ne "$want" ]; then
	fail "the sample of snapshot $short lists $listed files; its header says $want: it is cut short"
fi
if [ "$want" -eq 0 ]; then
	echo "odbackup drill passed: %[4]s: the volume held no files at the newest copy (snapshot $short); nothing to check"
	exit 0
fi
checked=0
tail -n +2 "$scratch/sample.sha256" >"$scratch/sample.list"
while IFS= read -r line; do
	sum=${line%%%% *}
	file=${line#* }
	rm -f "$scratch/dump.failed"
	got=$({ restic dump --no-lock --host=%[1]s --tag=%[2]s "$id" "$file" </dev/null || echo "$?" >"$scratch/dump.failed"; } | sha256sum)
	if [ -e "$scratch/dump.failed" ]; then
		fail "restic dump of $file from snapshot $short failed (exit $(cat "$scratch/dump.failed")): the file is missing from the copy, or the repository cannot be read"
	fi
	if [ "${got%%%% *}" != "$sum" ]; then
		fail "$file restored from snapshot $short does not match the SHA-256 sum the copy recorded"
	fi
	checked=$((checked + 1))
done <"$scratch/sample.list"
echo "odbackup drill: $checked of the $total files of snapshot $short restored and match their recorded SHA-256 sums"
`, shell.Quote(st.Job.Site), shell.QuoteTag("store="+st.Store.ID), st.Job.Site, st.Store.ID, shell.SnapshotIDOfJSON)
	b.WriteString(shell.DrillPassed(st, "the copy's sample matches"))
	return b.String()
}
