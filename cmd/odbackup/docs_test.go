package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/odbackup/odbackup/generator/docsite"
)

func TestParseDocsArgs(t *testing.T) {
	o, err := parseDocsArgs([]string{"a.cue", "b.cue", "-o", "site", "--format", "markdown"})
	if err != nil || o.output != "site" || o.format != docsite.DocMarkdown || len(o.policies) != 2 {
		t.Fatalf("got %+v, %v", o, err)
	}
	if o, err := parseDocsArgs([]string{"a.cue", "--output=site"}); err != nil || o.format != docsite.DocHTML {
		t.Fatalf("html is the default: got %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-o", "site"},
		{"a.cue"},
		{"a.cue", "-o", "site", "--format", "pdf"},
		{"a.cue", "-o", "site", "--jobs", "0"},
		{"a.cue", "-o", "site", "--nope"},
	} {
		_, err := parseDocsArgs(args)
		var usage *usageError
		if !errors.As(err, &usage) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
	if _, err := parseDocsArgs([]string{"--help"}); !errors.Is(err, errHelp) {
		t.Errorf("--help: got %v", err)
	}
}

// TestDocsExitCodes: usage errors exit 2, an invalid policy 1 (and nothing
// is written), success 0.
func TestDocsExitCodes(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "docs", "../../examples/ce-school/site.cue"); code != exitUsage {
		t.Errorf("no -o: exit %d (%s), want %d", code, stderr, exitUsage)
	}
	bad := filepath.Join(dir, "bad.cue")
	if err := os.WriteFile(bad, []byte("site: \"bad\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, "docs", bad, "-o", filepath.Join(dir, "out")); code != exitProblem {
		t.Errorf("invalid policy: exit %d, want %d", code, exitProblem)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("an invalid policy wrote %s: %v", filepath.Join(dir, "out"), err)
	}
	if code, _, stderr := runCLI(t, "docs", "../../examples/ce-school/site.cue", "-o", filepath.Join(dir, "out")); code != exitOK {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
