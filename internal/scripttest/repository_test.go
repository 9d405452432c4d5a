package scripttest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repositoryInit is the container of the Job that creates target's
// repository (repository/<target>.yaml).
func repositoryInit(t *testing.T, all []*Step, target string) *Step {
	t.Helper()
	for _, s := range all {
		if s.File == "repository/"+target+".yaml" && s.Kind == "Job" {
			return s
		}
	}
	t.Fatalf("no Job in repository/%s.yaml", target)
	return nil
}

// repoExists reports whether the stub repository has been created.
func repoExists(sb *Sandbox) bool {
	_, err := os.Stat(filepath.Join(sb.State, "restic", "password"))
	return err == nil
}

// TestBackupNeverCreatesRepository: no backup step and no maintenance
// creates a repository, however many run at once: on a target without one
// each fails before it dumps anything, naming the Job that creates it. Two
// restic init at once leave a repository half of the jobs cannot open.
func TestBackupNeverCreatesRepository(t *testing.T) {
	t.Parallel()
	all := example(t, "ee-full")
	steps := []*Step{
		backupStep(t, all, "xwiki/postgresql/xwiki", false),
		backupStep(t, all, "ox-appsuite/mariadb/configdb", false),
		maintenance(t, all, "rz"),
	}
	for _, step := range steps {
		t.Run(step.Owner+"/"+step.Name, func(t *testing.T) {
			t.Parallel()
			sb := NewSandbox(t)
			sb.SetDatabases("configdb")
			r := sb.Run(step, Opts{})
			if r.OK() || r.Err != nil {
				t.Fatalf("the step succeeded without a repository:\n%s", r)
			}
			for _, want := range []string{"does not exist", "Job odbackup-init-rz of repository/rz.yaml"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, r)
				}
			}
			if c := callsOf(r.Calls, "restic", "init"); len(c) != 0 {
				t.Errorf("the step ran restic init: %v", c)
			}
			for _, dump := range []string{"pg_dump", "mariadb-dump"} {
				if c := callsOf(r.Calls, dump); len(c) != 0 {
					t.Errorf("%s ran although there is no repository: %v", dump, c)
				}
			}
			if repoExists(sb) {
				t.Error("the step created the repository")
			}
		})
	}
}

// TestRepositoryInitJob: the Job of repository/<target>.yaml creates the
// repository, says so, and is safe to run again; a repository the password
// does not open, and one that never answers, fail it with a message.
func TestRepositoryInitJob(t *testing.T) {
	t.Parallel()
	all := example(t, "ee-full")
	init := repositoryInit(t, all, "rz")
	password := secretOf(init, "RESTIC_PASSWORD")
	backup := backupStep(t, all, "xwiki/postgresql/xwiki", false)
	// ee-full's rz reaches its repository by another URL for the
	// maintenance (restic.maintenance.repository); the init Job uses that.
	if secretOf(backup, "RESTIC_PASSWORD") != password || literalOf(init, "RESTIC_REPOSITORY") != literalOf(maintenance(t, all, "rz"), "RESTIC_REPOSITORY") {
		t.Fatal("the init Job and the maintenance of target rz do not use the same repository and password")
	}

	t.Run("creates, then finds", func(t *testing.T) {
		t.Parallel()
		sb := NewSandbox(t)
		r := sb.MustRun(init, Opts{})
		if !repoExists(sb) || !strings.Contains(r.Stdout, "created the restic repository") {
			t.Fatalf("the repository was not created:\n%s", r)
		}
		r = sb.MustRun(init, Opts{})
		if !strings.Contains(r.Stdout, "exists already and the password opens it") {
			t.Errorf("the second run does not say the repository exists:\n%s", r)
		}
		sb.MustRun(backup, Opts{})
		if n := len(snapshotsOf(sb, "xwiki/postgresql/xwiki")); n != 1 {
			t.Errorf("%d snapshots after a backup into the new repository, want 1", n)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		sb := NewSandbox(t)
		sb.InitRepo("another-password")
		r := sb.Run(init, Opts{})
		if r.OK() || !strings.Contains(r.Stderr, "the password does not open it (restic exit 12)") {
			t.Errorf("want a failure saying the password does not open the repository:\n%s", r)
		}
	})

	t.Run("no answer", func(t *testing.T) {
		t.Parallel()
		sb := NewSandbox(t)
		sb.Cue("restic init: hang")
		r := sb.Run(init, Opts{Env: map[string]string{"ODBACKUP_REPOSITORY_TIMEOUT": "1"}, Timeout: time.Minute})
		if r.OK() || r.Err != nil || !strings.Contains(r.Stderr, "gave no answer within 1 s") {
			t.Errorf("want the Job to fail by itself, saying the repository gave no answer:\n%s", r)
		}
		if repoExists(sb) {
			t.Error("a repository was created although init never answered")
		}
	})
}

// literalOf is the literal value of a step's environment variable.
func literalOf(step *Step, name string) string {
	for _, v := range step.Container.Env {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}
