package schema

import (
	"bufio"
	"os"
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
