package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpgradeExitCodes: a policy that is invalid at its own release is exit
// 1, like an invalid policy for every command, and says to fix it first; a
// --to that is no release is a usage error (exit 2).
func TestUpgradeExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "site.cue")
	if err := os.WriteFile(bad, []byte("site: \"Bad_Name\"\nedition: \"ce\"\nrelease: \"v1.17.2\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "upgrade", bad, "--to", "v1.18.0")
	if code != exitProblem || stdout != "" || !strings.Contains(stderr, "is not valid at its own release; fix it first") {
		t.Errorf("invalid policy: exit %d, stdout %q, stderr %q; want exit 1 and the hint", code, stdout, stderr)
	}
	example, err := filepath.Abs("../../examples/ce-school/site.cue")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "upgrade", example, "--to", "v1.99.0"); code != exitUsage || !strings.Contains(stderr, "does not know openDesk v1.99") {
		t.Errorf("unknown release: exit %d, %q; want exit 2", code, stderr)
	}
}

// TestUpgradeSaysWhatVetSays: the decisions upgrade lists are vet's at the
// new release, on the day given: an expired waiver is one of them.
func TestUpgradeSaysWhatVetSays(t *testing.T) {
	example, err := filepath.Abs("../../examples/ee-full/site.cue")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCLI(t, "upgrade", example, "--to", "v1.19.0", "--today", "2030-01-01", "--format", "json")
	var report struct {
		Valid     bool     `json:"valid"`
		Decisions []string `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatal(err)
	}
	if code != exitProblem || report.Valid || len(report.Decisions) != 1 || !strings.Contains(report.Decisions[0], "expired") {
		t.Errorf("exit %d, valid %v, decisions %q; want 1, invalid, and the expired waiver as the decision", code, report.Valid, report.Decisions)
	}
	if code, _, _ := runCLI(t, "upgrade", example, "--to", "v1.19.0", "--today", "2026-11-27"); code != 0 {
		t.Errorf("before the waiver expires: exit %d, want 0", code)
	}
}
