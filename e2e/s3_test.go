package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// archiveRun is an archive folder of the mirror as rclone lsf lists it.
var archiveRun = regexp.MustCompile(`(?m)^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{6}Z`)

// plainMarker is in every text object; the encrypted mirror must not show it.
const plainMarker = "ODBACKUP-E2E-PLAINTEXT"

// bucketState is a bucket's objects: key → MD5 of the content.
type bucketState map[string]string

// BucketState lists every object of bucket with the MD5 of its content,
// downloaded (an ETag is not a checksum for every upload).
func (e *Env) BucketState(t testing.TB, bucket string) bucketState {
	t.Helper()
	out := e.MustRclone(t, "md5sum", "--download", "--transfers=8", "s3:"+bucket)
	st := bucketState{}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		sum, key, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("rclone md5sum: unexpected line %q", line)
		}
		st[key] = sum
	}
	return st
}

func (b bucketState) diff(want bucketState) string {
	var out strings.Builder
	n := 0
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got, ok := b[k]; !ok {
			fmt.Fprintf(&out, "missing %q\n", k)
			n++
		} else if got != want[k] {
			fmt.Fprintf(&out, "changed %q\n", k)
			n++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&out, "extra %q\n", k)
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d objects differ:\n%s", n, len(want), tail(out.String()))
}

// objectTree writes files into dir and returns their state; sizes: small
// text, empty, binary and a few large ones.
type objectTree struct {
	dir   string
	state bucketState
}

func newObjectTree(t testing.TB) *objectTree {
	return &objectTree{dir: t.TempDir(), state: bucketState{}}
}

func (o *objectTree) put(t testing.TB, key string, data []byte) {
	t.Helper()
	p := filepath.Join(o.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	o.state[key] = hex.EncodeToString(sum[:])
}

// TestS3RoundTrip mirrors a bucket of 2,000 small objects under nested
// keys (with spaces and non-ASCII), empty and binary objects and three of
// 6 MB with the generated rclone-crypt step onto the S3 server, checks
// that the mirror shows neither names nor contents, then changes the bucket
// and mirrors it again. After a disaster (objects deleted, overwritten,
// junk added), the generated restore Job's script brings back the last
// night exactly (every key and checksum), and, given the first night's
// time, every object as it was that night.
func TestS3RoundTrip(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	bucket := e.CreateBucket(t, "nextcloud-")
	s := e.BuildSite(t, SiteSpec{
		Apps:   []string{"nextcloud"},
		Policy: fmt.Sprintf(`stores: "nextcloud/s3/nextcloud": connection: {bucket: %q, accessKeyID: %q}`+"\n", bucket, e.S3.AccessKey),
	})
	backup := s.Backup(t, "nextcloud/s3/nextcloud")
	restore := s.Restore(t, "nextcloud/s3/nextcloud", "rclone-crypt")
	s.Secrets[backup.SecretRef(t, "RCLONE_CONFIG_SOURCE_SECRET_ACCESS_KEY")] = e.S3.SecretKey

	// Night 1's bucket.
	o := newObjectTree(t)
	for i := range 2000 {
		key := fmt.Sprintf("data/user%02d/files/Ordner %d/Bericht Grüße %04d.txt", i%40, i%7, i)
		o.put(t, key, fmt.Appendf(nil, "%s object %d: Übung macht den Meister ✓\n%s", plainMarker, i, strings.Repeat("x", i%300)))
	}
	for i := range 10 {
		o.put(t, fmt.Sprintf("data/empty/leer-%d", i), nil)
	}
	for i := range 30 {
		o.put(t, fmt.Sprintf("appdata/previews/%d/%d.bin", i%5, i), randomBytes(t, 1+i*997))
	}
	for i := range 3 {
		o.put(t, fmt.Sprintf("data/user00/files/Video %d.mp4", i), randomBytes(t, 6<<20))
	}
	e.MustRclone(t, "copy", "--transfers=16", o.dir, "s3:"+bucket)
	night1 := e.BucketState(t, bucket)
	if d := night1.diff(o.state); d != "" {
		t.Fatalf("uploading the test objects: %s", d)
	}
	backup.MustRun(t, nil)
	at1 := time.Now().UTC().Format("2006-01-02T150405Z")

	// The mirror is encrypted: no key, no folder name, no content readable.
	remote := backup.EnvValue(t, "RCLONE_CONFIG_CRYPT_REMOTE") // mirror:<bucket>/<path>
	mirrorPath := strings.TrimPrefix(remote, "mirror:")
	if !strings.HasPrefix(mirrorPath, s.MirrorBucket+"/") {
		t.Fatalf("RCLONE_CONFIG_CRYPT_REMOTE %q is not in the mirror bucket %s", remote, s.MirrorBucket)
	}
	raw := t.TempDir()
	e.MustRclone(t, "copy", "--transfers=16", "s3:"+mirrorPath, raw)
	var names []string
	err := filepath.Walk(raw, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(raw, p)
		names = append(names, rel)
		if fi.Mode().IsRegular() && fi.Size() < 1<<20 {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.Contains(string(data), plainMarker) {
				t.Errorf("mirror object %s holds plain text", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// No segment of a mirror path is a segment of a key (nor odbackup's
	// own "current" and "archive" folders).
	plain := map[string]bool{"current": true, "archive": true, "drill": true, "sample.md5": true}
	for k := range o.state {
		for _, seg := range strings.Split(k, "/") {
			plain[seg] = true
		}
	}
	for _, n := range names {
		for _, seg := range strings.Split(filepath.ToSlash(n), "/") {
			if plain[seg] {
				t.Errorf("mirror path %q shows %q", n, seg)
			}
		}
	}
	// Beside the bucket's objects, the mirror holds the sample its restore
	// drill checks (drill/sample.md5, encrypted too).
	if files := countFiles(t, raw); files != len(o.state)+1 {
		t.Errorf("the mirror holds %d objects, want the bucket's %d and the drill's sample", files, len(o.state))
	}

	// Night 2: objects are deleted, changed and added, and mirrored again.
	waitNextSecond()
	e.MustRclone(t, "delete", "s3:"+bucket, "--include", "data/user01/**")
	o2 := newObjectTree(t)
	for i := 0; i < 2000; i += 40 {
		key := fmt.Sprintf("data/user%02d/files/Ordner %d/Bericht Grüße %04d.txt", i%40, i%7, i)
		o2.put(t, key, fmt.Appendf(nil, "%s changed in night 2: %d", plainMarker, i))
	}
	for i := range 20 {
		o2.put(t, fmt.Sprintf("data/user41/neu %d.txt", i), fmt.Appendf(nil, "new in night 2: %d", i))
	}
	e.MustRclone(t, "copy", "--transfers=16", o2.dir, "s3:"+bucket)
	night2 := e.BucketState(t, bucket)
	backup.MustRun(t, nil)

	// The disaster: a user folder deleted, objects overwritten, junk added.
	e.MustRclone(t, "delete", "s3:"+bucket, "--include", "data/user0[2-9]/**")
	junk := newObjectTree(t)
	junk.put(t, "data/user00/files/Video 1.mp4", []byte("truncated"))
	junk.put(t, "junk/ransom note.txt", []byte("pay up"))
	e.MustRclone(t, "copy", junk.dir, "s3:"+bucket)

	// Latest: exactly night 2.
	restore.MustRun(t, nil)
	if d := e.BucketState(t, bucket).diff(night2); d != "" {
		t.Errorf("after restoring latest: %s", d)
	}

	// list shows night 2's archive (what it replaced or deleted).
	r := restore.MustRun(t, map[string]string{"ODBACKUP_SNAPSHOT": "list"})
	if runs := archiveRun.FindAllString(r.Stdout, -1); len(runs) != 1 || runs[0] <= at1 || !strings.Contains(r.Stdout, "nothing restored") {
		t.Errorf("list shows archive folders %q, want one of night 2 (after %s):\n%s", runs, at1, r)
	}

	// Night 1 by its time: every object of night 1 as it was; objects
	// created later stay (they were never in an archive).
	restore.MustRun(t, map[string]string{"ODBACKUP_SNAPSHOT": at1})
	want := maps.Clone(night1)
	for k, v := range night2 {
		if _, ok := night1[k]; !ok {
			want[k] = v
		}
	}
	if d := e.BucketState(t, bucket).diff(want); d != "" {
		t.Errorf("after restoring night 1 (%s): %s", at1, d)
	}
}

func countFiles(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// cryptRclone runs rclone with the site's crypt remote of a bucket mirror
// step (its mirror: and crypt: remotes, as the step's environment sets
// them), as an operator looks into the mirror.
func cryptRclone(t testing.TB, e *Env, c *Container, args ...string) string {
	t.Helper()
	env := e.RcloneEnv("mirror")
	env["RCLONE_CONFIG_CRYPT_TYPE"] = "crypt"
	env["RCLONE_CONFIG_CRYPT_REMOTE"] = c.EnvValue(t, "RCLONE_CONFIG_CRYPT_REMOTE")
	env["RCLONE_CONFIG_CRYPT_FILENAME_ENCRYPTION"] = "standard"
	env["RCLONE_CONFIG_CRYPT_DIRECTORY_NAME_ENCRYPTION"] = "true"
	obscure := func(secret string) string {
		return strings.TrimSpace(MustRun(t, Cmd{Args: []string{"rclone", "--config", "/dev/null", "obscure", c.site.Secrets[secret]}}))
	}
	env["RCLONE_CONFIG_CRYPT_PASSWORD"] = obscure("odbackup-rclone-crypt/password")
	env["RCLONE_CONFIG_CRYPT_PASSWORD2"] = obscure("odbackup-rclone-crypt/salt")
	return must(t, "rclone "+args[0], Run(t, Cmd{Args: append([]string{"rclone", "--config", "/dev/null"}, args...), Env: env}))
}

// TestDrillS3Mirror: the mirror step records a sample of the bucket with
// the MD5 sums it read there; the drill checks it against the mirror's
// current copy with rclone checksum (decrypting each object) and passes.
// It fails, with one line naming the object, when a sampled object in the
// mirror changed or is gone, and when the mirror has no sample.
func TestDrillS3Mirror(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	const store = "nextcloud/s3/nextcloud"
	bucket := e.CreateBucket(t, "drill-")
	s := e.BuildSite(t, SiteSpec{
		Apps:   []string{"nextcloud"},
		Policy: fmt.Sprintf(`stores: %q: connection: {bucket: %q, accessKeyID: %q}`+"\n", store, bucket, e.S3.AccessKey),
	})
	backup, drill := s.Backup(t, store), s.Drill(t, store)
	s.Secrets[backup.SecretRef(t, "RCLONE_CONFIG_SOURCE_SECRET_ACCESS_KEY")] = e.S3.SecretKey
	for _, v := range drill.Container.Env {
		if strings.HasPrefix(v.Name, "RCLONE_CONFIG_SOURCE_") {
			t.Errorf("the drill can reach the site's bucket: it has %s", v.Name)
		}
	}

	o := newObjectTree(t)
	for i := range 40 {
		o.put(t, fmt.Sprintf("data/user%02d/Bericht Grüße %d.txt", i%4, i), fmt.Appendf(nil, "object %d %s", i, strings.Repeat("x", i*100)))
	}
	e.MustRclone(t, "copy", o.dir, "s3:"+bucket)
	backup.MustRun(t, nil)

	sample := cryptRclone(t, e, backup, "cat", "crypt:drill/sample.md5")
	lines := strings.Split(strings.TrimSpace(sample), "\n")
	if len(lines) != 16 {
		t.Fatalf("the sample holds %d objects, want 16:\n%s", len(lines), sample)
	}
	for _, l := range lines {
		sum, key, _ := strings.Cut(l, "  ")
		if o.state[key] != sum {
			t.Errorf("the sample's line %q is not the object's MD5 (%s)", l, o.state[key])
		}
	}
	r := drill.Run(t, scratch(t))
	if !r.OK() || !strings.Contains(r.Stdout, "odbackup drill: 16 sampled objects decrypt from the mirror") ||
		!strings.Contains(r.Stdout, "odbackup drill passed: "+store) {
		t.Fatalf("the drill of a good mirror did not pass:\n%s", r)
	}

	// A sampled object changed in the mirror.
	_, changed, _ := strings.Cut(lines[0], "  ")
	in := filepath.Join(t.TempDir(), "changed")
	writeFile(t, in, []byte("not what the bucket held"))
	cryptRclone(t, e, backup, "copyto", in, "crypt:current/"+changed)
	drillFailed(t, drill.Run(t, scratch(t)), store, "1 of the 16 objects the newest mirror run sampled do not match the mirror's current copy (differs: "+changed+")")

	// A sampled object gone from the mirror.
	_, gone, _ := strings.Cut(lines[1], "  ")
	cryptRclone(t, e, backup, "deletefile", "crypt:current/"+gone)
	drillFailed(t, drill.Run(t, scratch(t)), store, "2 of the 16 objects the newest mirror run sampled do not match the mirror's current copy (")

	// No sample in the mirror.
	cryptRclone(t, e, backup, "deletefile", "crypt:drill/sample.md5")
	drillFailed(t, drill.Run(t, scratch(t)), store, "cannot read the sample the newest mirror run recorded")
}
