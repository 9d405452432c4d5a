package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func examplePolicies(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../examples/*/site.cue")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example policies: %v", err)
	}
	return files
}

// runCLI runs odbackup in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, newEnv(&stdout, &stderr))
	return code, stdout.String(), stderr.String()
}

// TestOutIsCurrent keeps out/ (the examples' committed output, the golden
// files of odbackup build) equal to what the examples build today: any
// change to the generated files fails here until out/ is rebuilt with
// `make out` and the diff is reviewed.
func TestOutIsCurrent(t *testing.T) {
	args := append([]string{"build", "--check", "-o", "../../out"}, examplePolicies(t)...)
	if code, stdout, stderr := runCLI(t, args...); code != 0 {
		t.Fatalf("out/ is stale (exit %d); run make out and review:\n%s%s", code, stdout, stderr)
	}
}

// TestBuildIsDeterministic builds the examples twice, sequentially on one
// processor and concurrently on several, and compares every byte.
func TestBuildIsDeterministic(t *testing.T) {
	policies := examplePolicies(t)
	build := func(procs int) string {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		dir := t.TempDir()
		args := append([]string{"build", "-o", dir, "--jobs", "4"}, policies...)
		if procs == 1 {
			args[4] = "1"
		}
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("build failed: %s", stderr)
		}
		return dir
	}
	a, b := build(1), build(4)
	if files := sameFiles(t, a, b); files < 20 {
		t.Fatalf("compared %d files", files)
	}
}

// TestBatchEqualsSingleBuilds: building every example in one call (one
// compiled schema, sites evaluated concurrently) gives the same bytes as
// building each example in a call of its own.
func TestBatchEqualsSingleBuilds(t *testing.T) {
	policies := examplePolicies(t)
	batch, single := t.TempDir(), t.TempDir()
	if code, _, stderr := runCLI(t, append([]string{"build", "-o", batch, "--jobs", "4"}, policies...)...); code != 0 {
		t.Fatalf("batch build failed: %s", stderr)
	}
	for _, p := range policies {
		if code, _, stderr := runCLI(t, "build", "-o", single, p); code != 0 {
			t.Fatalf("build of %s failed: %s", p, stderr)
		}
	}
	if code, stdout, stderr := runCLI(t, append([]string{"build", "--check", "-o", single}, policies...)...); code != 0 {
		t.Fatalf("single builds differ from the batch build:\n%s%s", stdout, stderr)
	}
	entries, err := os.ReadDir(batch)
	if err != nil || len(entries) != len(policies) {
		t.Fatalf("batch wrote %d site folders for %d policies: %v", len(entries), len(policies), err)
	}
}
