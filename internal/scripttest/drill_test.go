package scripttest

import (
	"slices"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/internal/scripttest/stubs"
)

// drillStep is the restore drill's step of storeID.
func drillStep(t testing.TB, all []*Step, storeID string) *Step {
	t.Helper()
	return drillStepOf(t, all, storeID, false)
}

// offsiteDrillStep is the drill step of storeID's off-site copy (a volume
// with an LDIF export has two drills: the export's and the copy's).
func offsiteDrillStep(t testing.TB, all []*Step, storeID string) *Step {
	t.Helper()
	return drillStepOf(t, all, storeID, true)
}

func drillStepOf(t testing.TB, all []*Step, storeID string, offsite bool) *Step {
	t.Helper()
	var found []*Step
	for _, s := range all {
		if s.Kind == "CronJob" && s.Drill() && s.StoreID() == storeID && strings.HasPrefix(s.Name, "offsite-") == offsite {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one drill step of %s, found %d", storeID, len(found))
	}
	return found[0]
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestLDIFDrill: the backup of an LDIF records its entry count in the
// same snapshot, and the slapd schema it needs to load (or why it could
// not: this sandbox has no /etc/ldap/slapd.conf); the drill fails, with
// one line that says why, on that backup (no schema recorded), on an LDIF
// cut short (the count line is gone), on one whose entries do not match
// the count, and when there is no snapshot or restic cannot read it. That
// a good LDIF loads with slapadd, and one that does not load fails, the
// e2e test TestDrillLDIF proves with the real slapd tools.
func TestLDIFDrill(t *testing.T) {
	t.Parallel()
	const store = "nubus/pvc/shared-data-ums-ldap-server-primary-0"
	all := example(t, "ee-full")
	backup := backupStep(t, all, store, true)
	drill := drillStep(t, all, store)
	fail := "odbackup drill FAILED: " + store + ": "

	sb := NewSandbox(t)
	sb.InitRepo(secretOf(backup, "RESTIC_PASSWORD"))
	if r := sb.Run(drill, Opts{}); r.OK() || !strings.HasPrefix(lastLine(r.Stderr), fail+"restic dump") {
		t.Errorf("the drill without a snapshot did not fail with a restic dump reason:\n%s", r)
	}
	sb.MustRun(backup, Opts{})
	snaps := snapshotsOf(sb, store)
	good := snaps[len(snaps)-1]
	path := good.Paths[0]
	content := sb.Content(good, path)
	if !strings.HasSuffix(content, "\n# odbackup: entries 51\n") {
		t.Fatalf("the LDIF backup does not end with its entry count (51):\n%s", content[max(0, len(content)-200):])
	}
	if !strings.HasPrefix(content, "# odbackup: slapd configuration not recorded: cannot read /etc/ldap/slapd.conf") {
		t.Fatalf("the LDIF backup does not start with why it recorded no slapd schema:\n%s", content[:min(len(content), 200)])
	}
	r := sb.Run(drill, Opts{})
	if l := lastLine(r.Stderr); r.OK() || l != fail+"the newest ldap-primary.ldif records no slapd schema (cannot read /etc/ldap/slapd.conf or a schema file it includes, or it includes none): it cannot be loaded" {
		t.Errorf("the drill of a backup without a recorded schema did not fail saying why:\n%s", r)
	}

	for _, c := range []struct {
		name, content, reason string
	}{
		{"cut short", content[:len(content)/2], "does not end with the entry count"},
		{"entries lost", strings.Replace(content, "dn: uid=user7,", "xdn: uid=user7,", 1), "holds 50 entries; its backup recorded 51"},
		{"empty", "", "does not end with the entry count"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb := NewSandbox(t)
			sb.InitRepo(secretOf(backup, "RESTIC_PASSWORD"))
			sb.Seed(stubs.Snapshot{Hostname: good.Hostname, Tags: good.Tags, Paths: good.Paths}, map[string][]byte{path: []byte(c.content)})
			r := sb.Run(drill, Opts{})
			if r.OK() {
				t.Fatalf("the drill passed on an LDIF %s:\n%s", c.name, r)
			}
			if l := lastLine(r.Stderr); !strings.HasPrefix(l, fail) || !strings.Contains(l, c.reason) {
				t.Errorf("the drill's last line is %q, want %q...%q", l, fail, c.reason)
			}
		})
	}

	t.Run("restic dump fails", func(t *testing.T) {
		sb.Cue("restic dump: fail")
		r := sb.Run(drill, Opts{})
		if r.OK() || !strings.HasPrefix(lastLine(r.Stderr), fail+"restic dump") {
			t.Errorf("the drill did not fail with a restic dump reason:\n%s", r)
		}
	})
}

// TestDrillsRestoreTheirOwnStore: every drill step of the examples reads
// only its own store's snapshots at its own site (host and store tags on
// every restic call that reads data), so a drill can never check another
// store's backup and pass.
func TestDrillsRestoreTheirOwnStore(t *testing.T) {
	t.Parallel()
	n := 0
	for _, ex := range []string{"ce-school", "ee-full", "edu-university"} {
		for _, s := range example(t, ex) {
			if !s.Drill() {
				continue
			}
			n++
			if s.StoreID() == "" {
				t.Errorf("%s, container %s: the drill's header names no store", s.File, s.Name)
			}
			script, _ := s.Script()
			for _, l := range strings.Split(script, "\n") {
				l = strings.TrimSpace(l)
				if !strings.HasPrefix(l, "restic ") && !strings.Contains(l, "$(restic ") {
					continue
				}
				if !strings.Contains(l, "--host=") || !strings.Contains(l, "store="+s.StoreID()) || !strings.Contains(l, "--no-lock") {
					t.Errorf("%s, container %s: %q does not select the site and store %s without a lock", s.File, s.Name, strings.TrimSpace(l), s.StoreID())
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("the examples have no drill steps")
	}
}

// TestMariaDBDrillWithoutSnapshot: a wildcard store whose pattern matched
// no database backed up nothing on purpose, so its drill passes saying
// so; a named database without a snapshot fails its drill.
func TestMariaDBDrillWithoutSnapshot(t *testing.T) {
	t.Parallel()
	all := example(t, "ee-full")
	sb := NewSandbox(t)
	sb.InitRepo(secretOf(drillStep(t, all, "ox-appsuite/mariadb/configdb"), "RESTIC_PASSWORD"))
	r := sb.Run(drillStep(t, all, "ox-appsuite/mariadb/oxguard*"), Opts{})
	if !r.OK() || !strings.Contains(r.Stdout, "odbackup drill passed: ox-appsuite/mariadb/oxguard*: no database matched") {
		t.Errorf("the drill of a wildcard store without snapshots did not pass saying why:\n%s", r)
	}
	r = sb.Run(drillStep(t, all, "ox-appsuite/mariadb/configdb"), Opts{})
	if r.OK() || lastLine(r.Stderr) != "odbackup drill FAILED: ox-appsuite/mariadb/configdb: no snapshot of the store at site landesamt-it" {
		t.Errorf("the drill of a named database without a snapshot did not fail saying why:\n%s", r)
	}
}

// TestBucketMirrorDrill: a mirror run records its sample in the mirror
// (crypt:drill/sample.md5, from rclone md5sum of the sampled objects);
// the drill passes when rclone checksum matches every sampled object,
// passes saying so on an empty bucket's sample, and fails with one line
// naming the first object when one differs or is missing, and when the
// mirror holds no sample. That rclone's checksum of the real crypt
// remote works this way, the e2e test TestDrillS3Mirror proves.
func TestBucketMirrorDrill(t *testing.T) {
	t.Parallel()
	const store = "nextcloud/s3/nextcloud"
	all := example(t, "ee-full")
	backup := backupStep(t, all, store, false)
	drill := drillStep(t, all, store)
	fail := "odbackup drill FAILED: " + store + ": "

	sb := NewSandbox(t)
	r := sb.Run(drill, Opts{})
	if l := lastLine(r.Stderr); r.OK() || !strings.HasPrefix(l, fail+"cannot read the sample the newest mirror run recorded (crypt:drill/sample.md5)") {
		t.Errorf("the drill without a sample did not fail saying why:\n%s", r)
	}

	sb.writeState("rclone-lsf", "a.txt\nd/b.txt\n")
	sb.MustRun(backup, Opts{})
	var md5sum, recorded bool
	for _, c := range sb.Calls() {
		if c.Cmd == "rclone" && len(c.Args) > 0 && c.Args[0] == "md5sum" && slices.Contains(c.Args, "--download") {
			md5sum = true
		}
		if c.Cmd == "rclone" && len(c.Args) == 3 && c.Args[0] == "copyto" && c.Args[2] == "crypt:drill/sample.md5" {
			recorded = true
		}
	}
	if !md5sum || !recorded {
		t.Fatalf("the mirror run did not record a sample with rclone md5sum --download (%v) into crypt:drill/sample.md5 (%v)", md5sum, recorded)
	}
	// The stub's md5sum prints nothing: the sample of an empty bucket.
	if r := sb.MustRun(drill, Opts{}); !strings.Contains(r.Stdout, "odbackup drill passed: "+store+": the bucket was empty at the newest mirror run") {
		t.Errorf("the drill of an empty bucket's sample did not pass saying so:\n%s", r)
	}

	sb.writeState("rclone-remote/drill/sample.md5", "b1946ac92492d2347c6235b4d2611184  a.txt\n591785b794601e212b260e25925636fd  d/b.txt\n")
	sb.writeState("rclone-combined", "= a.txt\n= d/b.txt\n")
	if r := sb.MustRun(drill, Opts{}); !strings.Contains(r.Stdout, "odbackup drill: 2 sampled objects decrypt from the mirror") {
		t.Errorf("the drill of a matching sample did not pass:\n%s", r)
	}
	for _, c := range []struct{ combined, want string }{
		{"* a.txt\n= d/b.txt\n", "1 of the 2 objects the newest mirror run sampled do not match the mirror's current copy (differs: a.txt)"},
		{"= a.txt\n- d/b.txt\n", "1 of the 2 objects the newest mirror run sampled do not match the mirror's current copy (missing: d/b.txt)"},
	} {
		sb.writeState("rclone-combined", c.combined)
		if r := sb.Run(drill, Opts{}); r.OK() || lastLine(r.Stderr) != fail+c.want {
			t.Errorf("the drill's last line is %q, want %q:\n%s", lastLine(r.Stderr), fail+c.want, r)
		}
	}
}
