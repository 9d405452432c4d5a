package kinds

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// bucketMirror copies a bucket with rclone sync into an rclone crypt remote
// on the target's bucket mirror, keeping replaced and deleted objects in
// dated archives; it is not in restic.
type bucketMirror struct{ Restic }

// methodBucketMirror names the kind.
const methodBucketMirror plan.Method = "rclone-crypt"

func (bucketMirror) Method() plan.Method { return methodBucketMirror }

func (bucketMirror) Backs(st *schema.SiteStore) bool { return st.Kind == "s3" }

// GroupOrder: after the databases, so objects deleted after a database
// dump are still in the mirror's archive.
func (bucketMirror) GroupOrder() int { return 2 }

func (bucketMirror) Traits() plan.Traits { return plan.Traits{BucketMirror: true} }

// Kept: a mirror always holds the latest state and keeps what a sync
// replaced or deleted as many days as the oldest GFS snapshot would reach
// back.
func (bucketMirror) Kept(r schema.Retention, _ schema.Snapshot) plan.Kept {
	return plan.Kept{ArchiveDays: plan.ArchiveDays(r)}
}

func (bucketMirror) BackupContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Rclone, Script: bucketMirrorScript(st), Env: bucketMirrorEnv(pol, st)}
}

func (bucketMirror) BackupRules(*plan.Step, BackupRule) {}

func (bucketMirror) RestoreContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	pol := g.Plan.Site.Policy
	return manifest.Container{Image: pol.Images.Rclone, Env: bucketMirrorEnv(pol, st)}
}

func (bucketMirror) RestoreScript(_ *manifest.Builder, r *RestoreJob) string {
	return bucketRestoreScript(r)
}

func (bucketMirror) RestoreRules(*RestoreJob, RestoreRule, func()) {}

func (bucketMirror) RestoreTarget(r *RestoreJob) (noun, name, kind string) {
	return "bucket", r.Step.Store.Connection.Bucket, "S3"
}

func (bucketMirror) RunbookSection(rb Runbook, m *markdown.Doc, app *schema.SiteApp, r *RestoreJob) {
	bucketSection(rb, m, app, r)
}

func (bucketMirror) BackupWay(_ Runbook, st *plan.Step, when string) string {
	return fmt.Sprintf("rclone mirror, encrypted, to %s (target %s), %s", markdown.Code(st.Target.BucketMirror.Endpoint), markdown.Code(st.TargetName), when)
}

func (bucketMirror) SnapshotMeaning() string {
	return "a UTC time, written like " + markdown.Code("2026-01-31T120000Z") + ": each object comes back as the mirror had it then (objects created since stay)"
}

func (bucketMirror) ListCommand(Runbook, *plan.Step) string {
	return markdown.Code("rclone lsf --dirs-only crypt:archive") + " (runs that replaced or deleted objects)"
}

func (bucketMirror) Glossary() [][]string {
	return [][]string{{"rclone, crypt, mirror", "rclone copies buckets; its crypt layer encrypts object names and contents with a password and a salt. The mirror is the encrypted copy on the backup target."}}
}

// bucketMirrorScript copies a bucket into an rclone crypt remote on the
// target: "current" mirrors the bucket; objects the sync replaces or
// deletes move to "archive/<run time>" and are kept for the step's
// ArchiveDays. After the sync it records a sample for the restore drill
// (bucketSampleScript).
func bucketMirrorScript(st *plan.Step) string {
	days := st.Kept.ArchiveDays
	var b strings.Builder
	b.WriteString(shell.Header(fmt.Sprintf("odbackup: S3 bucket %s (%s), mirrored encrypted", st.Store.Connection.Bucket, st.Store.ID)))
	b.WriteString(`# rclone wants the crypt passwords obscured; obscure them here, so the
# Secret holds the plain password a restore also needs.
RCLONE_CONFIG_CRYPT_PASSWORD=$(printf '%s' "$ODBACKUP_CRYPT_PASSWORD" | rclone obscure -)
RCLONE_CONFIG_CRYPT_PASSWORD2=$(printf '%s' "$ODBACKUP_CRYPT_SALT" | rclone obscure -)
export RCLONE_CONFIG_CRYPT_PASSWORD RCLONE_CONFIG_CRYPT_PASSWORD2
run=$(date -u +%Y-%m-%dT%H%M%SZ)
echo "odbackup: rclone sync of bucket $ODBACKUP_BUCKET to $RCLONE_CONFIG_CRYPT_REMOTE (run $run)"
rclone sync "source:$ODBACKUP_BUCKET" crypt:current --backup-dir="crypt:archive/$run" --fast-list --stats-one-line --stats=1m
`)
	b.WriteString(bucketSampleScript)
	fmt.Fprintf(&b, `# Keep replaced and deleted objects for %d days.
cutoff=$(date -u -d "@$(( $(date +%%s) - %d * 86400 ))" +%%Y-%%m-%%dT%%H%%M%%SZ)
rclone lsf --dirs-only crypt:archive | while read -r dir; do
	dir=${dir%%/}
	if [ "$dir" != "$cutoff" ] && [ "$(printf '%%s\n%%s\n' "$dir" "$cutoff" | sort | head -n 1)" = "$dir" ]; then
		echo "odbackup: pruning archive $dir (older than %d days)"
		rclone purge "crypt:archive/$dir"
	fi
done
`, days, days, days)
	return b.String()
}

// bucketMirrorEnv configures rclone's three remotes through environment
// variables: the source bucket, the target's S3, and the crypt remote on
// it that encrypts names and contents before they leave the cluster.
func bucketMirrorEnv(pol *schema.Policy, st *plan.Step) []corev1.EnvVar {
	c := st.Store.Connection
	m := st.Target.BucketMirror
	remote := strings.Trim(strings.Join([]string{m.Bucket, m.Prefix, pol.Site, st.Store.App, c.Bucket}, "/"), "/")
	remote = strings.ReplaceAll(remote, "//", "/")
	return []corev1.EnvVar{
		manifest.Literal("ODBACKUP_BUCKET", c.Bucket),
		manifest.Literal("RCLONE_CONFIG_SOURCE_TYPE", "s3"),
		manifest.Literal("RCLONE_CONFIG_SOURCE_PROVIDER", "Other"),
		manifest.Literal("RCLONE_CONFIG_SOURCE_ENDPOINT", pol.Services.S3.Endpoint),
		manifest.Literal("RCLONE_CONFIG_SOURCE_REGION", pol.Services.S3.Region),
		manifest.Literal("RCLONE_CONFIG_SOURCE_FORCE_PATH_STYLE", fmt.Sprint(pol.Services.S3.PathStyle)),
		manifest.Literal("RCLONE_CONFIG_SOURCE_ACCESS_KEY_ID", c.AccessKeyID),
		manifest.FromSecret("RCLONE_CONFIG_SOURCE_SECRET_ACCESS_KEY", *c.SecretKeySecret),
		manifest.Literal("RCLONE_CONFIG_MIRROR_TYPE", "s3"),
		manifest.Literal("RCLONE_CONFIG_MIRROR_PROVIDER", "Other"),
		manifest.Literal("RCLONE_CONFIG_MIRROR_ENDPOINT", m.Endpoint),
		manifest.Literal("RCLONE_CONFIG_MIRROR_REGION", m.Region),
		manifest.Literal("RCLONE_CONFIG_MIRROR_FORCE_PATH_STYLE", "true"),
		manifest.FromSecret("RCLONE_CONFIG_MIRROR_ACCESS_KEY_ID", m.Credentials.AccessKeyID),
		manifest.FromSecret("RCLONE_CONFIG_MIRROR_SECRET_ACCESS_KEY", m.Credentials.SecretAccessKey),
		manifest.Literal("RCLONE_CONFIG_CRYPT_TYPE", "crypt"),
		manifest.Literal("RCLONE_CONFIG_CRYPT_REMOTE", "mirror:"+remote),
		manifest.Literal("RCLONE_CONFIG_CRYPT_FILENAME_ENCRYPTION", "standard"),
		manifest.Literal("RCLONE_CONFIG_CRYPT_DIRECTORY_NAME_ENCRYPTION", "true"),
		manifest.FromSecret("ODBACKUP_CRYPT_PASSWORD", m.Encryption.PasswordSecret),
		manifest.FromSecret("ODBACKUP_CRYPT_SALT", m.Encryption.SaltSecret),
	}
}

// bucketRestoreScript syncs the mirror's "current" back into the bucket.
// Given a time instead of "latest", it then copies back, newest first, the
// objects that later runs replaced or deleted, so each object ends up as
// the mirror had it at that time.
func bucketRestoreScript(r *RestoreJob) string {
	st := r.Step
	var b strings.Builder
	b.WriteString(shell.Header(fmt.Sprintf("odbackup restore: S3 bucket %s (%s) from its encrypted mirror", st.Store.Connection.Bucket, st.Store.ID)))
	b.WriteString(`snapshot=${ODBACKUP_SNAPSHOT:-latest}
tmp=${TMPDIR:-/tmp}
RCLONE_CONFIG_CRYPT_PASSWORD=$(printf '%s' "$ODBACKUP_CRYPT_PASSWORD" | rclone obscure -)
RCLONE_CONFIG_CRYPT_PASSWORD2=$(printf '%s' "$ODBACKUP_CRYPT_SALT" | rclone obscure -)
export RCLONE_CONFIG_CRYPT_PASSWORD RCLONE_CONFIG_CRYPT_PASSWORD2
case $snapshot in
list)
	echo "odbackup: runs that replaced or deleted objects (archive folders, UTC):"
	rclone lsf --dirs-only crypt:archive
	echo "odbackup: nothing restored; set ODBACKUP_SNAPSHOT to latest or to a UTC time like 2026-01-31T120000Z"
	exit 0
	;;
latest) ;;
[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9][0-5][0-9][0-5][0-9]Z) ;;
*)
	echo "odbackup: ODBACKUP_SNAPSHOT: $snapshot is neither latest, list nor a UTC time like 2026-01-31T120000Z" >&2
	exit 1
	;;
esac
echo "odbackup: rclone sync of $RCLONE_CONFIG_CRYPT_REMOTE/current into bucket $ODBACKUP_BUCKET"
rclone sync crypt:current "source:$ODBACKUP_BUCKET" --fast-list --stats-one-line --stats=1m
if [ "$snapshot" != latest ]; then
	rclone lsf --dirs-only crypt:archive >"$tmp/archive"
	sed 's|/$||' "$tmp/archive" | awk -v t="$snapshot" '$0 > t' | sort -r >"$tmp/later"
	while read -r run; do
		echo "odbackup: copying back what run $run replaced or deleted"
		rclone copy "crypt:archive/$run" "source:$ODBACKUP_BUCKET" --fast-list --stats-one-line --stats=1m
	done <"$tmp/later"
fi
echo "odbackup: bucket $ODBACKUP_BUCKET restored"
`)
	return b.String()
}

func bucketSection(rb Runbook, m *markdown.Doc, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	mirror := st.Target.BucketMirror
	env := bucketMirrorEnv(rb.Policy(), st)
	remote := ""
	for _, e := range env {
		if e.Name == "RCLONE_CONFIG_CRYPT_REMOTE" {
			remote = e.Value
		}
	}
	m.Para("What the Job does: every night the backup copied the bucket, encrypted with rclone crypt, to %s on %s: the folder %s holds the bucket as of the last run, and %s followed by a run's UTC time holds the objects that run replaced or deleted (kept for %d days). The Job decrypts %s and syncs it into the bucket %s at %s with %s: objects created since the backup are deleted, changed and deleted ones come back. Given a time as %s, it then copies back, newest first, what every later run replaced or deleted, so each object that existed then is as it was at that time; objects created after that time stay.",
		markdown.Code(remote), markdown.Code(mirror.Endpoint), markdown.Code("current"), markdown.Code("archive/"), st.Kept.ArchiveDays, markdown.Code("current"), markdown.Code(c.Bucket), markdown.Code(rb.Policy().Services.S3.Endpoint), markdown.Code("rclone sync"), markdown.Code(SnapshotPlaceholder))
	m.Para("Why this way: the copy is a plain bucket, encrypted before it left the cluster, so restoring it needs nothing but rclone, the mirror's credentials and the crypt password and salt (Secret %s).", markdown.Code(mirror.Encryption.PasswordSecret.Name))
	rb.ApplyCommands(m, r)
	m.Para("Single objects: to look into the mirror or take one object back without the Job, set up rclone on your machine with the Job's settings (rclone wants the crypt passwords obscured):")
	m.CodeBlock("sh", rb.Exports(env, "ODBACKUP_CRYPT_PASSWORD", "ODBACKUP_CRYPT_SALT", "ODBACKUP_BUCKET")+
		fmt.Sprintf("export RCLONE_CONFIG_CRYPT_PASSWORD=\"$(%s | rclone obscure -)\"\n", rb.SecretCommand(mirror.Encryption.PasswordSecret))+
		fmt.Sprintf("export RCLONE_CONFIG_CRYPT_PASSWORD2=\"$(%s | rclone obscure -)\"\n", rb.SecretCommand(mirror.Encryption.SaltSecret))+
		"rclone lsf --dirs-only crypt:archive")
	m.Para("The last command lists the runs that replaced or deleted something. %s lists what one run replaced or deleted, and %s copies all of it back into the bucket; add %s with one of the listed paths to copy only that object.",
		markdown.Code("rclone ls crypt:archive/"+SnapshotPlaceholder), markdown.Code("rclone copy crypt:archive/"+SnapshotPlaceholder+" source:"+c.Bucket), markdown.Code("--include"))
}

// bucketSample is where in the crypt remote a mirror run records the
// sample its drill checks: beside "current" and "archive", encrypted like
// them, and never synced back into the bucket.
const bucketSample = "crypt:drill/sample.md5"

// bucketSampleSize is how many objects a mirror run samples for its drill.
const bucketSampleSize = 16

// bucketSampleScript records, after the sync, what the drill compares
// the mirror with: up to bucketSampleSize objects of the bucket chosen at
// random, with the MD5 sums of their content as read from the bucket (an
// md5sum file, one "<sum>  <path>" line each). An empty bucket records an
// empty sample.
var bucketSampleScript = fmt.Sprintf(`tmp=${TMPDIR:-/tmp}
rclone lsf --recursive --files-only --fast-list "source:$ODBACKUP_BUCKET" >"$tmp/objects"
awk 'BEGIN { srand() } { printf "%%.9f\t%%s\n", rand(), $0 }' "$tmp/objects" | sort | head -n %[1]d | cut -f 2- >"$tmp/sample"
rclone md5sum --download --files-from-raw "$tmp/sample" "source:$ODBACKUP_BUCKET" >"$tmp/sample.md5"
rclone copyto "$tmp/sample.md5" %[2]s
echo "odbackup: recorded the MD5 sums of $(wc -l <"$tmp/sample.md5") sampled objects in %[2]s for the restore drill"
`, bucketSampleSize, bucketSample)

// Drills: every bucket mirror is drilled: a sample of its objects.
func (bucketMirror) Drills(*schema.SiteStore) bool { return true }

// DrillContainer runs the drill in the rclone image with the mirror's and
// the crypt remote's settings only: the drill reads no bucket of the site.
func (bucketMirror) DrillContainer(g *manifest.Builder, st *plan.Step) manifest.Container {
	var env []corev1.EnvVar
	for _, e := range bucketMirrorEnv(g.Plan.Site.Policy, st) {
		if !strings.HasPrefix(e.Name, "RCLONE_CONFIG_SOURCE_") {
			env = append(env, e)
		}
	}
	return manifest.Container{Image: g.Plan.Site.Policy.Images.Rclone, Script: bucketDrillScript(st), Env: env}
}

func (bucketMirror) DrillNoun() string { return "S3 bucket mirrors" }

func (bucketMirror) DrillChecks(*plan.Step) string {
	return fmt.Sprintf("the %d objects the newest mirror run sampled, with the MD5 sums it read from the bucket, decrypt from the mirror's %s with the same sums (%s)",
		bucketSampleSize, markdown.Code("current"), markdown.Code("rclone checksum --download"))
}

// bucketDrillScript reads the sample the newest mirror run recorded and
// checks it against the mirror's "current" with rclone checksum, which
// downloads and decrypts each sampled object and compares its MD5 sum:
// this proves the mirror is there, decrypts with the password and salt
// of the Secret, and holds what the bucket held.
func bucketDrillScript(st *plan.Step) string {
	b := shell.DrillHeader(st, "S3 bucket mirror of "+st.Store.Connection.Bucket)
	fmt.Fprintf(b, `RCLONE_CONFIG_CRYPT_PASSWORD=$(printf '%%s' "$ODBACKUP_CRYPT_PASSWORD" | rclone obscure -)
RCLONE_CONFIG_CRYPT_PASSWORD2=$(printf '%%s' "$ODBACKUP_CRYPT_SALT" | rclone obscure -)
export RCLONE_CONFIG_CRYPT_PASSWORD RCLONE_CONFIG_CRYPT_PASSWORD2
# rclone copyto copies nothing, and succeeds, when the source is no file.
if ! rclone copyto %[1]s "$scratch/sample.md5" 2>"$scratch/sample.log" || [ ! -f "$scratch/sample.md5" ]; then
	cat "$scratch/sample.log" >&2
	fail "cannot read the sample the newest mirror run recorded (%[1]s): no mirror run recorded one yet, or the mirror's credentials, crypt password or salt are wrong"
fi
sampled=$(grep -c . "$scratch/sample.md5" || true)
if [ "$sampled" -eq 0 ]; then
	echo "odbackup drill passed: %[2]s: the bucket was empty at the newest mirror run; nothing to check"
	exit 0
fi
if ! rclone checksum md5 "$scratch/sample.md5" crypt:current --download --one-way \
	--combined="$scratch/combined" >"$scratch/check.log" 2>&1; then
	cat "$scratch/check.log" >&2
	bad=$(grep -c -v '^= ' "$scratch/combined" || true)
	first=$(grep -v '^= ' "$scratch/combined" | head -n 1 |
		sed 's/^\* /differs: /; s/^- /missing: /; s/^! /unreadable: /')
	fail "$bad of the $sampled objects the newest mirror run sampled do not match the mirror's current copy (${first:-rclone checksum failed: $(tail -n 1 "$scratch/check.log")})"
fi
echo "odbackup drill: $sampled sampled objects decrypt from the mirror with the MD5 sums read from the bucket"
`, bucketSample, st.Store.ID)
	b.WriteString(shell.DrillPassed(st, "the mirror's sample matches"))
	return b.String()
}
