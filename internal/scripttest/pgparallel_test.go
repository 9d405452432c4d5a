package scripttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 19 item 2: a PostgreSQL store with restoreScratch restores from a
// dump staged on the scratch volume (ODBACKUP_SCRATCH; the sandbox's tmp
// stands in for the ephemeral volume) with pg_restore --jobs.

const pgParallelStore = "xwiki/postgresql/xwiki"

// pgParallelSandbox is XWiki's backup with restoreScratch (3 jobs), run
// once into the sandbox's repository, and its restore step.
func pgParallelSandbox(t *testing.T) (*Sandbox, *Step) {
	t.Helper()
	all := testSite(t, "site-a", []string{"xwiki"}, `stores: "xwiki/postgresql/xwiki": restoreScratch: {size: "10Gi", jobs: 3}`)
	backup := backupStep(t, all, pgParallelStore, false)
	sb := NewSandbox(t)
	sb.InitRepo(secretOf(backup, "RESTIC_PASSWORD"))
	sb.MustRun(backup, Opts{})
	return sb, restoreStep(t, all, pgParallelStore, "pg_dump")
}

// staged is the dump the restore staged in the sandbox's scratch folder,
// if it is still there.
func staged(sb *Sandbox) bool {
	_, err := os.Stat(filepath.Join(sb.Dir, "tmp", "xwiki.pgdump"))
	return err == nil
}

// TestPGParallelRestore: the restore resolves latest to one snapshot ID,
// dumps exactly that snapshot's file onto the scratch volume, and gives
// pg_restore the whole file with --jobs and --exit-on-error (no
// --single-transaction, which --jobs refuses); the staged file is gone
// afterwards.
func TestPGParallelRestore(t *testing.T) {
	sb, restore := pgParallelSandbox(t)
	snaps := snapshotsOf(sb, pgParallelStore)
	if len(snaps) != 1 {
		t.Fatalf("%d snapshots after one backup", len(snaps))
	}
	want := sb.Content(snaps[0], "/xwiki.pgdump")
	r := sb.MustRun(restore, Opts{Env: map[string]string{"ODBACKUP_SNAPSHOT": "latest"}})
	if d := callsOf(r.Calls, "restic", "dump", snaps[0].ID, "xwiki.pgdump"); len(d) != 1 {
		t.Errorf("want one restic dump of snapshot %s by its full ID:\n%s", snaps[0].ID, r)
	}
	loads := callsOf(r.Calls, "pg_restore", "--jobs=3", "--exit-on-error", "--clean", "--if-exists", "--no-owner")
	if len(loads) != 1 {
		t.Fatalf("want one pg_restore --jobs=3 --exit-on-error --clean --if-exists --no-owner:\n%s", r)
	}
	if strings.Contains(loads[0].Line(), "--single-transaction") {
		t.Errorf("pg_restore --jobs with --single-transaction: %s", loads[0].Line())
	}
	if got := sb.Stdin(loads[0]); got != want {
		t.Errorf("pg_restore read %d bytes, want the snapshot's %d", len(got), len(want))
	}
	if staged(sb) {
		t.Error("the staged dump is left on the scratch volume")
	}
	if !strings.Contains(r.Stdout, "odbackup: database ") || !strings.Contains(r.Stdout, "restored") {
		t.Errorf("the log does not say the database was restored:\n%s", r)
	}
}

// TestPGParallelRestoreRefusesBrokenDump: a restic ls or dump that fails,
// a dump cut short or empty with exit 0, and a staged file pg_restore
// cannot read each fail the restore before pg_restore touches the
// database, saying nothing was restored, and leave no staged file.
func TestPGParallelRestoreRefusesBrokenDump(t *testing.T) {
	// Each failure is named as what it is: the dump's exit status, not
	// only the size check behind it. (A cue's words match substrings:
	// "dump" matches the ls of xwiki.pgdump too, so ls is cued ok first.)
	for cue, says := range map[string]string{
		"restic ls: fail":                   "restic ls of xwiki.pgdump in snapshot latest failed",
		"restic ls: ok\nrestic dump: fail":  "restic dump of xwiki.pgdump from snapshot ",
		"restic ls: ok\nrestic dump: short": "the staged xwiki.pgdump is cut short",
		"restic ls: ok\nrestic dump: empty": "the staged xwiki.pgdump is cut short: 0 of",
		"pg_restore --list: fail 1":         "not an archive pg_restore can read",
	} {
		t.Run(cue, func(t *testing.T) {
			sb, restore := pgParallelSandbox(t)
			sb.Cue(strings.Split(cue, "\n")...)
			r := sb.Run(restore, Opts{Env: map[string]string{"ODBACKUP_SNAPSHOT": "latest"}})
			if r.OK() {
				t.Fatalf("the restore succeeded although %s:\n%s", cue, r)
			}
			if !strings.Contains(r.Stderr, says) || !strings.Contains(r.Stderr, "nothing was restored") {
				t.Errorf("the log does not say %q and that nothing was restored:\n%s", says, r)
			}
			for _, c := range callsOf(r.Calls, "pg_restore") {
				if !strings.Contains(c.Line(), "--list") {
					t.Errorf("pg_restore ran on a broken dump: %s", c.Line())
				}
			}
			if staged(sb) {
				t.Error("the broken dump is left on the scratch volume")
			}
		})
	}
}

// TestPGParallelRestoreFailureSaysPartly: a pg_restore that fails after
// it started says that the database may be partly restored and what to
// do; the Job fails.
func TestPGParallelRestoreFailureSaysPartly(t *testing.T) {
	sb, restore := pgParallelSandbox(t)
	sb.Cue("pg_restore --jobs: fail 1")
	r := sb.Run(restore, Opts{Env: map[string]string{"ODBACKUP_SNAPSHOT": "latest"}})
	if r.OK() || !strings.Contains(r.Stderr, "may be partly restored") || !strings.Contains(r.Stderr, "recreate the database") {
		t.Errorf("a failed pg_restore --jobs does not fail the Job saying the database may be partly restored:\n%s", r)
	}
	if n := len(callsOf(r.Calls, "pg_restore", "--jobs=3")); n != 1 {
		t.Errorf("pg_restore --jobs ran %d times, want 1", n)
	}
}
