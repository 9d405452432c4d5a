package scripttest

// The Redis backup streams redis-cli --rdb - into restic (no staging in
// the pod's /tmp); a transfer that ends early must still store nothing.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRedisStreamsWholeRDB: the step stores exactly what redis-cli
// streamed, from its standard output, and leaves nothing in TMPDIR.
func TestRedisStreamsWholeRDB(t *testing.T) {
	t.Parallel()
	const store = "ox-appsuite/redis/cache"
	step := backupStep(t, oxSite(t), store, false)
	sb := NewSandbox(t)
	sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
	r := sb.MustRun(step, Opts{})
	if c := callsOf(r.Calls, "redis-cli", "--rdb -"); len(c) != 1 {
		t.Errorf("want one redis-cli --rdb - (streamed, not staged in a file):\n%s", r)
	}
	snaps := snapshotsOf(sb, store)
	if len(snaps) != 1 {
		t.Fatalf("want one snapshot of %s, have %d:\n%s", store, len(snaps), r)
	}
	rdb := sb.Content(snaps[0], "dump.rdb")
	if !strings.HasPrefix(rdb, "REDIS0011 night 1\n") || !strings.HasSuffix(rdb, "\xffRDB-END") {
		t.Errorf("the snapshot does not hold the whole RDB redis-cli sent (%d bytes):\n%q", len(rdb), rdb)
	}
	if left, _ := os.ReadDir(filepath.Join(sb.Dir, "tmp")); len(left) != 0 {
		t.Errorf("the step left files in TMPDIR: %v", left)
	}
}

// TestRedisStreamCutShort: redis-cli streams half of the RDB into restic,
// then loses the connection and exits non-zero (as the real one does when
// the server goes away mid-transfer). POSIX sh has no pipefail, so the
// step must see redis-cli's status through the pipe to dd: it fails,
// says why, and the repository holds no snapshot of the store.
func TestRedisStreamCutShort(t *testing.T) {
	t.Parallel()
	const store = "ox-appsuite/redis/cache"
	step := backupStep(t, oxSite(t), store, false)
	sb := NewSandbox(t)
	sb.InitRepo(secretOf(step, "RESTIC_PASSWORD"))
	sb.Cue("redis-cli: fail")
	r := sb.Run(step, Opts{})
	if r.OK() {
		t.Fatalf("the step succeeded although redis-cli lost the connection mid-transfer:\n%s", r)
	}
	if n := len(snapshotsOf(sb, store)); n != 0 {
		t.Errorf("a transfer cut short left %d snapshot(s):\n%s", n, r)
	}
	if !strings.Contains(r.Stderr, "redis-cli --rdb failed (exit 1): the RDB is incomplete") {
		t.Errorf("stderr does not say that the RDB is incomplete:\n%s", r)
	}
	if left, _ := os.ReadDir(filepath.Join(sb.Dir, "tmp")); len(left) != 0 {
		t.Errorf("the step left files in TMPDIR: %v", left)
	}
}
