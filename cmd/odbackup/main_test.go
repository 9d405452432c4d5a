package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run odbackup in-process as the "odbackup"
// command, with the real main's behaviour but a fixed clock.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"odbackup": func() {
			e := newEnv(os.Stdout, os.Stderr)
			if today := os.Getenv("ODBACKUP_TEST_TODAY"); today != "" {
				t, err := time.Parse(time.DateOnly, today)
				if err != nil {
					panic(err)
				}
				e.now = func() time.Time { return t }
			}
			// Scripts cross chunk boundaries with a handful of policies.
			if chunk := os.Getenv("ODBACKUP_TEST_CHUNK"); chunk != "" {
				n, err := strconv.Atoi(chunk)
				if err != nil {
					panic(err)
				}
				e.chunk = n
			}
			os.Exit(run(os.Args[1:], e))
		},
	})
}

// TestScripts runs testdata/script/*.txtar. Set ODBACKUP_UPDATE=1 to
// rewrite the expected output in the scripts after a deliberate change.
func TestScripts(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("ODBACKUP_UPDATE") != "",
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			env.Setenv("ODBACKUP_TEST_TODAY", "2026-11-27")
			return nil
		},
	})
}
