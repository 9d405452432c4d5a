package shell

import (
	"fmt"
	"strings"

	"github.com/odbackup/odbackup/generator/plan"
)

// The drill scripts follow the backup scripts' convention: what depends on
// where they run comes from the environment (ODBACKUP_SCRATCH, restic's
// variables), so the e2e tests run them as they are. A failed check ends
// the script with one line, "odbackup drill FAILED: <store>: <reason>",
// and a non-zero exit, which fails the Job.

// DrillScratch is where a drill works: the pod's /tmp emptyDir, or
// ODBACKUP_SCRATCH (the e2e tests' temporary folder).
const DrillScratch = `scratch=${ODBACKUP_SCRATCH:-/tmp}/odbackup-drill
rm -rf "$scratch"
mkdir -p "$scratch"
`

// DrillHeader starts a drill script: the header, fail (the one-line
// reason and the exit) and the scratch folder.
func DrillHeader(st *plan.Step, what string) *strings.Builder {
	b := new(strings.Builder)
	b.WriteString(Header("odbackup drill: " + what + " (" + st.Store.ID + ")"))
	fmt.Fprintf(b, `fail() {
	echo "odbackup drill FAILED: %s: $*" >&2
	exit 1
}
`, st.Store.ID)
	b.WriteString(DrillScratch)
	return b
}

// DrillFetch writes FILE of the newest snapshot tagged tags (store=<id>
// and more) of the site into the scratch folder as OUT. A drill stages
// the file rather than streaming it: a failed dump is then one exit code,
// and the check reads the bytes the restore read.
func DrillFetch(site, tags, file, out string) string {
	return fmt.Sprintf(`restic dump --no-lock --host=%[1]s --tag=%[2]s latest %[3]s >"$scratch/%[4]s" ||
	fail "restic dump of %[3]s from the newest snapshot failed (no snapshot, or the repository cannot be read)"
echo "odbackup drill: $(wc -c <"$scratch/%[4]s") bytes of %[3]s restored from the newest snapshot"
`, Quote(site), QuoteTag(tags), QuoteTag(file), out)
}

// DrillPassed ends a drill script.
func DrillPassed(st *plan.Step, what string) string {
	return fmt.Sprintf("echo \"odbackup drill passed: %s: %s\"\n", st.Store.ID, what)
}
