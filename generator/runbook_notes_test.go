package generator_test

import (
	"regexp"
	"strings"
	"testing"
)

// noteWrite is a runbook command that writes a file: tee FILE or >FILE.
var noteWrite = regexp.MustCompile(`(?m)(?:\| tee|[^2&]>) ?([^\s|;&)]+\.txt)`)

// TestRunbookNotesOutsideTheOutput (issue 16 item 14): the notes a
// runbook's commands record for later (replicas, suspend flags, old
// volume names) go outside the site's output folder, which odbackup
// build replaces as a whole, into a folder of the site's own.
func TestRunbookNotesOutsideTheOutput(t *testing.T) {
	n := 0
	for site, tree := range examples(t) {
		for _, p := range tree.Paths() {
			if !strings.HasPrefix(p, "runbooks/") {
				continue
			}
			rb := string(tree[p])
			for _, m := range noteWrite.FindAllStringSubmatch(rb, -1) {
				n++
				if !strings.HasPrefix(m[1], "~/odbackup-notes/") {
					t.Errorf("%s/%s: a note is written to %s, inside the output folder a build replaces", site, p, m[1])
				}
				before := rb[:strings.Index(rb, m[0])]
				if !strings.Contains(before[max(0, strings.LastIndex(before, "```sh")):], "mkdir -p ~/odbackup-notes/") {
					t.Errorf("%s/%s: %s is written without creating its folder first", site, p, m[1])
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no runbook records a note")
	}
}
