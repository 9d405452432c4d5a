package schema

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestEduCatalogHoldsEduStores proves every store listed in
// testdata/edu-stores.tsv is in the opendesk-edu catalog with the listed
// backup class, and that every store openDesk Edu adds to the CE catalog is
// listed, so a store cannot be added or dropped without saying where it
// comes from.
func TestEduCatalogHoldsEduStores(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	edu, upstream := s.Catalog("opendesk-edu"), s.Catalog("opendesk")
	f, err := os.Open("testdata/edu-stores.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 3 {
			t.Fatalf("malformed row %q", line)
		}
		id, want := cols[0], cols[1]
		if listed[id] {
			t.Errorf("%s is listed twice", id)
		}
		listed[id] = true
		st := edu.Store(id)
		if st == nil {
			t.Errorf("row %q: no store %s in the opendesk-edu catalog", line, id)
			continue
		}
		if st.Backup != want {
			t.Errorf("%s: backup class %q, want %q", id, st.Backup, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(listed) < 30 {
		t.Fatalf("only %d rows checked", len(listed))
	}
	for _, appID := range edu.AppIDs() {
		if upstream.Apps[appID] != nil {
			continue // a CE app Edu keeps: source-table.tsv lists its stores
		}
		for _, st := range edu.Apps[appID].SortedStores() {
			if !listed[st.ID] {
				t.Errorf("store %s is not listed in testdata/edu-stores.tsv", st.ID)
			}
		}
	}
}

// TestEduCatalogIsBuiltOnCE proves the opendesk-edu catalog is the CE part of
// the upstream catalog at v1.17 with Edu's replacements applied: every CE
// app Edu keeps has the upstream stores of v1.17, every replaced app is gone
// and names an Edu app that took its place, and every app exists in CE v1.17
// only.
func TestEduCatalogIsBuiltOnCE(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	edu, upstream := s.Catalog("opendesk-edu"), s.Catalog("opendesk")
	if !slices.Equal(edu.Editions, []string{"ce"}) || !slices.Equal(edu.Releases, []string{"v1.17"}) {
		t.Fatalf("opendesk-edu: editions %v, releases %v; want [ce] and [v1.17]", edu.Editions, edu.Releases)
	}
	if edu.BuiltOn == "" {
		t.Error("opendesk-edu has no builtOn text for vet to quote")
	}
	for _, id := range []string{"ox-appsuite", "ox-connector", "nextcloud", "dovecot", "postfix", "seaweedfs", "intercom-service"} {
		r, ok := edu.Replaced[id]
		switch {
		case !ok:
			t.Errorf("%s: not in replaced", id)
		case edu.Apps[id] != nil:
			t.Errorf("%s: replaced, but still an app of opendesk-edu", id)
		case edu.Apps[r.By] == nil:
			t.Errorf("%s: replaced by %q, which is not an app of opendesk-edu", id, r.By)
		}
	}
	for id := range edu.Replaced {
		if upstream.Apps[id] == nil {
			t.Errorf("replaced lists %q, which upstream openDesk does not have", id)
		}
	}
	for _, id := range upstream.AppIDs() {
		up, got := upstream.Apps[id], edu.Apps[id]
		_, replaced := edu.Replaced[id]
		switch {
		case replaced:
			continue
		case !slices.Contains(up.Editions, "ce"):
			if got != nil {
				t.Errorf("%s exists only in EE upstream, but is in opendesk-edu", id)
			}
			continue
		case got == nil:
			t.Errorf("CE app %s is neither in opendesk-edu nor replaced", id)
			continue
		}
		var want []string
		for _, st := range up.SortedStores() {
			if slices.Contains(st.Editions, "ce") && slices.Contains(st.Releases, "v1.17") {
				want = append(want, st.ID)
			}
		}
		var have []string
		for _, st := range got.SortedStores() {
			have = append(have, st.ID)
			if u := upstream.Store(st.ID); u == nil || u.Backup != st.Backup || u.Identifier != st.Identifier {
				t.Errorf("%s differs from the upstream store", st.ID)
			}
		}
		if !slices.Equal(have, want) {
			t.Errorf("%s: stores %v, want the upstream CE v1.17 stores %v", id, have, want)
		}
	}
	for _, id := range edu.AppIDs() {
		app := edu.Apps[id]
		if !slices.Equal(app.Editions, []string{"ce"}) || !slices.Equal(app.Releases, []string{"v1.17"}) {
			t.Errorf("%s: editions %v, releases %v; want [ce] and [v1.17]", id, app.Editions, app.Releases)
		}
		for _, st := range app.SortedStores() {
			if !slices.Equal(st.Editions, []string{"ce"}) || !slices.Equal(st.Releases, []string{"v1.17"}) {
				t.Errorf("%s: editions %v, releases %v; want [ce] and [v1.17]", st.ID, st.Editions, st.Releases)
			}
			if st.Confidence == "inferred" && st.Note == "" {
				t.Errorf("%s is inferred, but no note says from what", st.ID)
			}
		}
	}
}

// eduPolicy is a valid opendesk-edu policy with extra appended.
func eduPolicy(extra string) []byte {
	return []byte(`site:         "hs-test"
distribution: "opendesk-edu"
edition:      "ce"
release:      "v1.17.0"
domain:       "opendesk.hs-test.example"
targets: offsite: {
	restic: {
		repository: "rest:https://restic.example.org/hs-test"
		passwordSecret: {name: "odbackup-restic", key: "password"}
	}
	bucketMirror: {
		endpoint: "https://s3.example.org"
		bucket:   "buckets"
		credentials: {
			accessKeyID: {name: "odbackup-s3", key: "id"}
			secretAccessKey: {name: "odbackup-s3", key: "secret"}
		}
		encryption: {
			passwordSecret: {name: "odbackup-crypt", key: "password"}
			saltSecret: {name: "odbackup-crypt", key: "salt"}
		}
	}
}
snapshot: driver: "cephfs.csi.ceph.com"
stores: {
	"nubus/postgresql/selfservice": backup:       false
	"nubus/postgresql/nubus_authsession": backup: false
	"migrations/s3/migrations": backup:           false
	"sogo/pvc/sogo-data": backup:                 false
	// the apps Edu deploys by default whose charts keep the database
	// password inline
	"ilias/mariadb/ilias": connection: passwordSecret: {name: "db-passwords", key: "ilias"}
	"moodle/postgresql/moodle": connection: passwordSecret: {name: "db-passwords", key: "moodle"}
	"planka/postgresql/planka": connection: passwordSecret: {name: "db-passwords", key: "planka"}
}
` + extra)
}

// TestEduReleaseName proves the names of an Edu app follow the site's
// apps.<app>.releaseName, and the Edu helmfile's release name otherwise.
func TestEduReleaseName(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	site, err := s.Evaluate("site.cue", eduPolicy(`apps: ilias: releaseName: "lms"
apps: bigbluebutton: deployed: true
`))
	if err != nil {
		t.Fatal(err)
	}
	store := func(id string) *SiteStore {
		t.Helper()
		for _, st := range site.Stores() {
			if st.ID == id {
				return st
			}
		}
		t.Fatalf("no store %s in the site", id)
		return nil
	}
	for _, c := range []struct{ id, field, got, want string }{
		{"ilias/pvc/ilias-data", "claim", store("ilias/pvc/ilias-data").Connection.Claim, "lms-ilias-data"},
		{"ilias/pvc/ilias-data", "identifier", store("ilias/pvc/ilias-data").Identifier, "lms-ilias-data"},
		{"ilias/pvc/ilias-data", "workload", store("ilias/pvc/ilias-data").Connection.Workload, "lms-ilias"},
		{"ilias/pvc/ilias-lucene", "workload", store("ilias/pvc/ilias-lucene").Connection.Workload, "lms-ilias-ilserver"},
		{"ilias/mariadb/ilias", "host", store("ilias/mariadb/ilias").Connection.Host, "lms-mariadb"},
		{"ilias/mariadb/ilias", "database", store("ilias/mariadb/ilias").Connection.Database, "ilias"},
		{"bigbluebutton/pvc/bbb-recordings", "claim", store("bigbluebutton/pvc/bbb-recordings").Connection.Claim, "bigbluebutton-bbb-recordings"},
		{"stalwart/pvc/stalwart", "claim", store("stalwart/pvc/stalwart").Connection.Claim, "stalwart-stalwart"},
		{"opencloud/pvc/data", "claim", store("opencloud/pvc/data").Connection.Claim, "opendesk-opencloud-data"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s %q, want %q", c.id, c.field, c.got, c.want)
		}
	}
	ilias := site.App("ilias")
	var workloads []string
	for _, w := range ilias.Workloads {
		workloads = append(workloads, w.Name)
	}
	if want := []string{"lms-ilias-cronjob", "lms-ilias-toolobox", "lms-ilias-ilserver", "lms-ilias"}; !slices.Equal(workloads, want) {
		t.Errorf("ilias workloads %v, want %v", workloads, want)
	}
	if !slices.Equal(ilias.HelmReleases, []string{"lms"}) {
		t.Errorf("ilias helm releases %v, want [lms]", ilias.HelmReleases)
	}
	if v := ilias.Verify[0].Exec; v == nil || v.Workload != "lms-ilias" {
		t.Errorf("ilias verify runs in %+v, want workload lms-ilias", v)
	}
	if got := site.App("stalwart").Verify[0].HTTPGet; got != "http://stalwart-stalwart:8080/healthz/ready" {
		t.Errorf("stalwart verify GETs %q", got)
	}
	// The catalog itself keeps the template for the next site.
	if got := s.Catalog("opendesk-edu").Store("ilias/pvc/ilias-data").Connection.Claim; got != "{release}-ilias-data" {
		t.Errorf("catalog claim %q changed by a site's release name", got)
	}
}

// TestEduSources proves every Edu app, workload and store says where its
// facts were read, and that an inferred fact says what to check.
func TestEduSources(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	edu, upstream := s.Catalog("opendesk-edu"), s.Catalog("opendesk")
	for _, appID := range edu.AppIDs() {
		if upstream.Apps[appID] != nil {
			continue // a CE app Edu keeps: upstream's sources apply
		}
		app := edu.Apps[appID]
		if len(app.Sources) == 0 {
			t.Errorf("app %s has no sources", appID)
		}
		for _, w := range app.Workloads {
			if len(w.Sources) == 0 {
				t.Errorf("%s: workload %s has no sources", appID, w.Name)
			}
		}
		for _, st := range app.SortedStores() {
			if len(st.Sources) == 0 {
				t.Errorf("store %s has no sources", st.ID)
			}
			for _, src := range st.Sources {
				if src.Repo != "opendesk-edu/opendesk-edu" || len(src.Commit) != 40 || src.Shows == "" {
					t.Errorf("store %s: source %+v does not name the Edu repository, a full commit and what it shows", st.ID, src)
				}
			}
		}
	}
}

// TestEduInlineCredentials proves a database whose chart keeps the password
// inline has no Secret in the catalog, that a site backing it up must name
// one, and that the Secret the site names is the one the job uses.
func TestEduInlineCredentials(t *testing.T) {
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	st := s.Catalog("opendesk-edu").Store("limesurvey/mariadb/limesurvey")
	if st.InlineCredentials == "" || st.Connection.PasswordSecret != nil {
		t.Fatalf("limesurvey/mariadb/limesurvey: inlineCredentials %q, passwordSecret %v; want a reason and no Secret", st.InlineCredentials, st.Connection.PasswordSecret)
	}
	_, err = s.Evaluate("site.cue", eduPolicy("apps: limesurvey: deployed: true\n"))
	if err == nil || !strings.Contains(err.Error(), `stores."limesurvey/mariadb/limesurvey".connection.passwordSecret: limesurvey/mariadb/limesurvey is backed up, but upstream keeps its database password inline`) {
		t.Fatalf("want the missing Secret of limesurvey reported, got %v", err)
	}
	site, err := s.Evaluate("site.cue", eduPolicy(`apps: limesurvey: deployed: true
stores: "limesurvey/mariadb/limesurvey": connection: passwordSecret: {name: "db-passwords", key: "limesurvey"}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range site.Stores() {
		if got.ID == "limesurvey/mariadb/limesurvey" {
			if ref := got.Connection.PasswordSecret; ref == nil || *ref != (SecretKeyRef{Name: "db-passwords", Key: "limesurvey"}) {
				t.Errorf("limesurvey/mariadb/limesurvey: passwordSecret %v, want db-passwords/limesurvey", ref)
			}
			return
		}
	}
	t.Fatal("no store limesurvey/mariadb/limesurvey in the site")
}
