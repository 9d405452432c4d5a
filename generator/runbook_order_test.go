package generator_test

import (
	"strings"
	"testing"
)

// TestRunbooksSayThingsInOrder (issue 16 item 16): what a runbook tells
// the reader to do first comes before the commands that need it, and
// what it refers back to was said earlier.
func TestRunbooksSayThingsInOrder(t *testing.T) {
	checked := map[string]bool{}
	for site, tree := range examples(t) {
		for _, p := range tree.Paths() {
			if !strings.HasPrefix(p, "runbooks/") {
				continue
			}
			rb := string(tree[p])
			// Each PostgreSQL section: recreate first, then the Job.
			for _, sec := range strings.Split(rb, "\n### ")[1:] {
				if !strings.Contains(sec, "(PostgreSQL)") {
					continue
				}
				recreate, apply := strings.Index(sec, "Recreate the database first"), strings.Index(sec, "| kubectl apply --filename=-")
				if recreate < 0 || apply < 0 || recreate > apply {
					t.Errorf("%s/%s: %q: recreating the database comes after the Job commands", site, p, firstLine(sec))
				}
				checked["postgresql"] = true
			}
			verify := strings.Index(rb, "## 6. Verify")
			if strings.Contains(rb, "noted before the restore") {
				t.Errorf("%s/%s: a check compares with a count no step notes", site, p)
			}
			if strings.Contains(rb, "occ files:scan --all") && strings.Contains(rb, "a user whose files you know") {
				t.Errorf("%s/%s: the files:scan check says one user but scans all", site, p)
			}
			if i := strings.Index(rb, "compare with the count step 4 printed"); i >= 0 {
				if loaded := strings.Index(rb, `echo "loaded $(slapcat`); loaded < 0 || loaded > verify {
					t.Errorf("%s/%s: step 6 compares with a count step 4 does not print", site, p)
				}
				checked["ldap"] = true
			}
			// The LDAP export: what to do when the volume is lost, before
			// the pod starts on a new one; the text says slapd runs while
			// slapadd builds the new database.
			if strings.Contains(rb, "slapadd -f") {
				lost, del, start := strings.Index(rb, "When the volume itself is lost"), strings.Index(rb, "delete pvc --ignore-not-found"), strings.Index(rb, "The pod must run, on its new, empty volume")
				if lost < 0 || del < lost || start >= 0 && start < del {
					t.Errorf("%s/%s: no step for a lost volume before the pod starts on a new one", site, p)
				}
				if strings.Contains(rb, "that needs the server stopped") {
					t.Errorf("%s/%s: says the server is stopped while the commands keep it running", site, p)
				}
				checked["slapd"] = true
			}
		}
	}
	for _, k := range []string{"postgresql", "ldap", "slapd"} {
		if !checked[k] {
			t.Errorf("no runbook had a %s section to check", k)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
