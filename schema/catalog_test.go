package schema

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestCatalogHoldsSourceTable proves every row of openDesk's storage table
// (and every row openDesk's sources add) is in the catalog with the backup
// class listed in testdata/source-table.tsv, and that a reconciled class
// carries a note saying why.
func TestCatalogHoldsSourceTable(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	cat := s.Catalog("opendesk")
	f, err := os.Open("testdata/source-table.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	words := map[string]string{"Yes": "required", "Optional": "optional", "No": "never"}
	rows := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 6 {
			t.Fatalf("malformed row %q", line)
		}
		rows++
		tableClass, id, want := words[cols[2]], cols[4], cols[5]
		st := cat.Store(id)
		if st == nil {
			t.Errorf("row %q: no store %s in the catalog", line, id)
			continue
		}
		if st.Backup != want {
			t.Errorf("%s: backup class %q, want %q", id, st.Backup, want)
		}
		if tableClass != "" && tableClass != st.Backup && st.Note == "" {
			t.Errorf("%s: the table says %q, the catalog %q, and no note says why", id, tableClass, st.Backup)
		}
	}
	if rows < 60 {
		t.Fatalf("only %d rows checked", rows)
	}
}

// TestCatalogStoresAreListed is the other direction: every store of the
// opendesk catalog appears in testdata/source-table.tsv, so a store cannot
// be added without saying which row it comes from.
func TestCatalogStoresAreListed(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/source-table.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range s.Catalog("opendesk").AppIDs() {
		for _, st := range s.Catalog("opendesk").Apps[id].SortedStores() {
			if !strings.Contains(string(data), "\t"+st.ID+"\t") {
				t.Errorf("store %s is not listed in testdata/source-table.tsv", st.ID)
			}
		}
	}
}

// sourcedDistributions are the catalogs whose every fact carries the file it
// was read from. openDesk Edu joins once its audit has filled its sources.
var sourcedDistributions = []string{"opendesk", "opendesk-edu"}

// fullCommit is a commit as git prints it in full: a source must name the
// exact tree it was read in, not an abbreviation that may become ambiguous.
var fullCommit = regexp.MustCompile(`^[0-9a-f]{40}$`)

// TestCatalogFactsHaveSources fails when an app, or a store or workload
// marked confirmed, names no file it was read from, when a source names no
// full commit or says nothing about what it shows, and when an inferred
// store has no note saying what to check.
func TestCatalogFactsHaveSources(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, dist := range sourcedDistributions {
		cat := s.Catalog(dist)
		if cat == nil {
			t.Fatalf("no catalog %q", dist)
		}
		for _, id := range cat.AppIDs() {
			app := cat.Apps[id]
			checkSources(t, "app "+id, app.Sources)
			if len(app.Sources) == 0 {
				t.Errorf("app %s: no source shows its enablement or releases", id)
			}
			for _, w := range app.Workloads {
				what := fmt.Sprintf("app %s: %s %s", id, w.Kind, w.Name)
				checkSources(t, what, w.Sources)
				if w.Confidence == "confirmed" && len(w.Sources) == 0 {
					t.Errorf("%s: confirmed, but no source shows its kind and name", what)
				}
			}
			for _, st := range app.SortedStores() {
				checkSources(t, "store "+st.ID, st.Sources)
				switch {
				case st.Confidence == "confirmed" && len(st.Sources) == 0:
					t.Errorf("store %s: confirmed, but no source shows its facts", st.ID)
				case st.Confidence == "inferred" && st.Note == "":
					t.Errorf("store %s: inferred, but no note says what to check", st.ID)
				}
			}
		}
	}
}

func checkSources(t *testing.T, what string, srcs []Source) {
	t.Helper()
	for _, src := range srcs {
		if !fullCommit.MatchString(src.Commit) {
			t.Errorf("%s: source %s:%s names commit %q, want the full 40-digit commit", what, src.Repo, src.Path, src.Commit)
		}
		if src.Shows == "" {
			t.Errorf("%s: source %s:%s does not say what it shows", what, src.Repo, src.Path)
		}
	}
}

// TestInferredFactsAreListedInTheREADME fails when an inferred store or
// workload of a sourced catalog is missing from the README's section
// "Still inferred, and how to confirm it on a cluster": an operator must
// find every fact to check in one place.
func TestInferredFactsAreListedInTheREADME(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	// The upstream catalog's inferred facts are listed in one section, the
	// Edu apps' in the openDesk Edu chapter; an Edu site has both.
	var section string
	for _, heading := range []string{"### Still inferred, and how to confirm it on a cluster", "### Still inferred: check these on your cluster"} {
		start := strings.Index(readme, heading)
		if start < 0 {
			t.Fatalf("README.md has no section %q", heading)
		}
		part := readme[start:]
		if end := strings.Index(part[1:], "\n## "); end >= 0 {
			part = part[:end+1]
		}
		section += part
	}
	for _, dist := range sourcedDistributions {
		cat := s.Catalog(dist)
		for _, id := range cat.AppIDs() {
			app := cat.Apps[id]
			for _, w := range app.Workloads {
				ref := "`" + strings.ToLower(w.Kind) + "/" + w.Name + "`"
				if w.Confidence == "inferred" && !strings.Contains(section, ref) {
					t.Errorf("app %s: inferred workload %s is not listed in the README", id, ref)
				}
			}
			for _, st := range app.SortedStores() {
				if st.Confidence == "inferred" && !strings.Contains(section, "`"+st.ID+"`") {
					t.Errorf("inferred store %s is not listed in the README", st.ID)
				}
			}
		}
	}
}

// TestVolumeOwnersHaveSources fails when a volume that can be backed up
// says nothing about the user its app runs as (the off-site copy reads, and
// its restore writes, as that user), when a volume that names a user,
// group or fsGroup does not say where it comes from, or has no source file
// that shows a securityContext, and when an app that runs as root also
// names a user.
func TestVolumeOwnersHaveSources(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, dist := range sourcedDistributions {
		cat := s.Catalog(dist)
		for _, id := range cat.AppIDs() {
			for _, st := range cat.Apps[id].SortedStores() {
				if st.Kind != "pvc" {
					continue
				}
				c := st.Connection
				named := c.RunAsUser != 0 || c.RunAsGroup != 0 || c.FSGroup != 0 || c.RunAsRoot
				switch {
				case st.Backup != "never" && c.Owner == "":
					t.Errorf("%s %s: a volume that can be backed up, but its connection's owner does not say whose its files are", dist, st.ID)
				case named && c.Owner == "":
					t.Errorf("%s %s: names a user, group or fsGroup without saying where they come from", dist, st.ID)
				case c.RunAsRoot && c.RunAsUser != 0:
					t.Errorf("%s %s: runs as root and as user %d", dist, st.ID, c.RunAsUser)
				}
				if !named {
					continue
				}
				shown := false
				for _, src := range st.Sources {
					shown = shown || strings.Contains(src.Shows, "runAsUser") || strings.Contains(src.Shows, "fsGroup")
				}
				if !shown {
					t.Errorf("%s %s: no source of the store shows the securityContext it names", dist, st.ID)
				}
			}
		}
	}
}
