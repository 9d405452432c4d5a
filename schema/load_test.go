package schema

import "testing"

// TestLoadEmbedded proves the embedded CUE module builds and every catalog
// decodes; a broken embed fails here rather than in a user's hands.
func TestLoadEmbedded(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Distributions(); len(got) == 0 {
		t.Fatal("no distributions in the embedded catalog")
	}
	cat := s.Catalog("opendesk")
	if cat == nil {
		t.Fatal("no opendesk catalog")
	}
	st := cat.Store("nextcloud/postgresql/nextcloud")
	if st == nil || st.Connection.Database != "nextcloud" || st.Connection.Port != 5432 {
		t.Fatalf("nextcloud/postgresql/nextcloud = %+v", st)
	}
}
