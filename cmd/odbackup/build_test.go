package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
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
	return runCLIChunk(t, defaultChunk, args...)
}

// runCLIChunk is runCLI with batches evaluated chunk policies at a time.
func runCLIChunk(t *testing.T, chunk int, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := newEnv(&stdout, &stderr)
	e.chunk = chunk
	code := run(args, e)
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

// TestBatchEqualsSingleBuilds: building every policy in one call gives
// the same bytes as building each in a call of its own, whether the batch
// is one chunk (one compiled schema, the sites the check decoded) or
// several (a schema per chunk, every policy evaluated again for writing);
// --check agrees chunk by chunk. The policies are the examples and two
// copies under other site names, five sites in all.
func TestBatchEqualsSingleBuilds(t *testing.T) {
	policies := examplePolicies(t)
	copies := t.TempDir()
	siteField := regexp.MustCompile(`(?m)^site:\s*"[^"]*"`)
	for i, p := range policies[:2] {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		copy := filepath.Join(copies, fmt.Sprintf("copy-%d.cue", i))
		if err := os.WriteFile(copy, siteField.ReplaceAll(src, []byte(fmt.Sprintf("site: \"copy-%d\"", i))), 0o644); err != nil {
			t.Fatal(err)
		}
		policies = append(policies, copy)
	}
	single := t.TempDir()
	for _, p := range policies {
		if code, _, stderr := runCLI(t, "build", "-o", single, p); code != 0 {
			t.Fatalf("build of %s failed: %s", p, stderr)
		}
	}
	for _, chunk := range []int{defaultChunk, 2} {
		t.Run(fmt.Sprintf("chunk=%d", chunk), func(t *testing.T) {
			batch := t.TempDir()
			args := append([]string{"build", "-o", batch, "--jobs", "2"}, policies...)
			if code, _, stderr := runCLIChunk(t, chunk, args...); code != 0 {
				t.Fatalf("batch build failed: %s", stderr)
			}
			entries, err := os.ReadDir(batch)
			if err != nil || len(entries) != len(policies) {
				t.Fatalf("batch wrote %d site folders for %d policies: %v", len(entries), len(policies), err)
			}
			if a, b := sameFiles(t, batch, single), sameFiles(t, single, batch); a != b || a < 100 {
				t.Fatalf("batch has %d files, single builds %d", a, b)
			}
			args = append([]string{"build", "--check", "-o", single}, policies...)
			if code, stdout, stderr := runCLIChunk(t, chunk, args...); code != 0 {
				t.Fatalf("--check of the single builds failed:\n%s%s", stdout, stderr)
			}
		})
	}
}

// TestCheckPrintsDiffsInOrder: with the batch in chunks of one, --check
// still prints every stale site's diff in argument order, and a stale site
// in a later chunk fails the check.
func TestCheckPrintsDiffsInOrder(t *testing.T) {
	policies := examplePolicies(t)
	out := t.TempDir()
	if code, _, stderr := runCLI(t, append([]string{"build", "-o", out}, policies...)...); code != 0 {
		t.Fatalf("build failed: %s", stderr)
	}
	sites, err := os.ReadDir(out)
	if err != nil || len(sites) != len(policies) {
		t.Fatalf("%d site folders: %v", len(sites), err)
	}
	// The last policy's site, then the first one's, are made stale.
	var stale []string
	for _, p := range []string{policies[len(policies)-1], policies[0]} {
		site := siteOf(t, p)
		if err := os.WriteFile(filepath.Join(out, site, "kustomization.yaml"), []byte("changed by hand\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		stale = append(stale, site)
	}
	code, stdout, _ := runCLIChunk(t, 1, append([]string{"build", "--check", "-o", out}, policies...)...)
	if code != exitProblem {
		t.Fatalf("--check of a stale tree: exit %d, want %d", code, exitProblem)
	}
	first := strings.Index(stdout, "/"+stale[1]+"/kustomization.yaml")
	last := strings.Index(stdout, "/"+stale[0]+"/kustomization.yaml")
	if first < 0 || last < 0 || first > last {
		t.Fatalf("diffs of %s and %s missing or out of order:\n%s", stale[1], stale[0], stdout)
	}
}

// siteOf reads the site name of a policy file.
func siteOf(t *testing.T, policy string) string {
	t.Helper()
	src, err := os.ReadFile(policy)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^site:\s*"([^"]*)"`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("%s names no site", policy)
	}
	return string(m[1])
}
