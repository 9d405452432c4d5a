package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// LDAPSubtree is every entry under base on the server at url with its
// user and operational attributes (entryUUID, createTimestamp, entryCSN,
// ...), as sorted LDIF.
func (e *Env) LDAPSubtree(t testing.TB, url, base string) string {
	t.Helper()
	r := Run(t, Cmd{Args: []string{"ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", url,
		"-D", e.LDAP.RootDN, "-w", e.LDAP.Password, "-b", base, "-s", "sub", "(objectClass=*)", "*", "+"}})
	if !r.OK() && r.ExitCode != 32 { // 32: no such object
		t.Fatalf("ldapsearch: %s", r)
	}
	entries := strings.Split(strings.TrimSpace(r.Stdout), "\n\n")
	slices.Sort(entries)
	return strings.Join(entries, "\n\n")
}

// ldapSeed is a directory subtree as Nubus holds users and groups: users
// with non-ASCII names, password hashes and photos (binary), and groups.
func ldapSeed(t testing.TB, ou string) string {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: %s\ndescription:: %s\n\n",
		ou, strings.TrimPrefix(strings.Split(ou, ",")[0], "ou="), b64("Benutzer und Gruppen – Grüße"))
	fmt.Fprintf(&b, "dn: ou=users,%s\nobjectClass: organizationalUnit\nou: users\n\n", ou)
	var members []string
	for i := range 25 {
		dn := fmt.Sprintf("uid=user%02d,ou=users,%s", i, ou)
		members = append(members, "member: "+dn)
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: user%02d\ncn:: %s\nsn:: %s\ndisplayName:: %s\nmail: user%02d@example.org\nuserPassword: {SSHA}%s\njpegPhoto:: %s\n\n",
			dn, i, b64(fmt.Sprintf("Jürgen Müller %d", i)), b64("Müller"), b64(fmt.Sprintf("Jürgen Müller 日本 %d", i)),
			i, base64.StdEncoding.EncodeToString(randomBytes(t, 24)), base64.StdEncoding.EncodeToString(randomBytes(t, 300+i)))
	}
	for g := range 3 {
		fmt.Fprintf(&b, "dn: cn=gruppe-%d,%s\nobjectClass: groupOfNames\ncn: gruppe-%d\n%s\n\n", g, ou, g, strings.Join(members[g*5:g*5+8], "\n"))
	}
	return b.String()
}

// TestLDAPExportRoundTrip covers the LDIF export of the LDAP primary, the
// copy of the volume's data that leaves the cluster. The generated export
// step runs `kubectl exec ums-ldap-server-primary-0 -- slapcat` as its
// ServiceAccount; the stand-in kubectl checks the exec with the API server
// and runs slapcat here against the test slapd (its configuration: the
// pod's /etc/ldap/slapd.conf). After the subtree is deleted and junk
// added, the generated restore Job's script copies the LDIF into the pod's
// volume (a directory mounted over /var/lib in the command's own mount
// namespace), and the runbook's own load commands, taken from the
// generated runbook, build the new database with slapadd and swap it in.
// The test then starts a slapd on that database ("the pod restarts") and
// compares every entry with its operational attributes.
func TestLDAPExportRoundTrip(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	const store = "nubus/pvc/shared-data-ums-ldap-server-primary-0"
	s := e.BuildSite(t, SiteSpec{
		Apps: []string{"nubus"},
		Policy: `stores: {
	"nubus/postgresql/selfservice": backup: false
	"nubus/postgresql/nubus_authsession": backup: false
}
`,
	})
	ou := "ou=" + Unique("e2e-") + "," + e.LDAP.Base
	ldapModify(t, e, "ldapadd", ldapSeed(t, ou))
	before := e.LDAPSubtree(t, e.LDAP.URL, ou)
	if n := strings.Count(before, "dn: "); n != 30 {
		t.Fatalf("seeded %d entries, want 30:\n%s", n, before)
	}

	// The pod's file system: its configuration (the test server's, with
	// the data directory where the pod has it) and a fresh volume.
	root := ldapPodRoot(t, e)

	// The nightly export, with the pod's configuration at
	// /etc/ldap/slapd.conf (its slapcat reads the test server's).
	export := s.Export(t, store)
	exportEnv := func() map[string]string {
		env := export.ExecPod(t, "SLAPD_CONF="+e.LDAP.Conf)
		env["ODBACKUP_E2E_POD_ROOT"] = root
		return env
	}
	export.MustRun(t, exportEnv())
	file := "/" + regexpFind(t, `--stdin-filename=(\S+)`, export.Script())
	ldif := e.MustRestic(t, s.RepoEnv(t), "dump", "--tag", "store="+store, "latest", file)
	live := MustRun(t, Cmd{Args: []string{"slapcat", "-f", e.LDAP.Conf}})
	// The backup starts the LDIF with the pod's slapd modules and schema
	// and ends it with the entry count, comment lines for the restore
	// drill.
	live = slapdRecordOf(t, filepath.Join(root, "etc/ldap/slapd.conf"), root) + live +
		fmt.Sprintf("# odbackup: entries %d\n", strings.Count(live, "\ndn: ")+1)
	if ldif != live {
		t.Fatalf("the snapshot's %s is not the recorded schema, slapcat's output and its entry count (%d bytes, want %d):\n%s", file, len(ldif), len(live), lineDiff(live, ldif))
	}
	// kubectl exec can end a stream early and exit 0 (issue 16 item 1): a
	// stream cut short and an empty one fail the step and store nothing.
	for _, cut := range []int{len(live) / 2, 0} {
		env := exportEnv()
		env["ODBACKUP_E2E_EXEC_CUT"] = strconv.Itoa(cut)
		if r := export.Run(t, env); r.OK() {
			t.Errorf("the export succeeded with a stream cut to %d of %d bytes:\n%s", cut, len(live), r)
		}
	}
	if n := len(e.Snapshots(t, s.RepoEnv(t), "--tag", "store="+store)); n != 1 {
		t.Errorf("%d snapshots after exports cut short, want 1", n)
	}

	// The disaster.
	MustRun(t, Cmd{Args: []string{"ldapdelete", "-x", "-H", e.LDAP.URL, "-D", e.LDAP.RootDN, "-w", e.LDAP.Password, "-r", ou}})
	junk := "ou=" + Unique("junk-") + "," + e.LDAP.Base
	ldapModify(t, e, "ldapadd", fmt.Sprintf("dn: %s\nobjectClass: organizationalUnit\nou: %s\n", junk, strings.TrimPrefix(strings.Split(junk, ",")[0], "ou=")))

	podEnv := func(c *Container) map[string]string {
		env := c.ExecPod(t, "SLAPD_CONF=/etc/ldap/slapd.conf")
		env["ODBACKUP_E2E_POD_ROOT"] = root
		return env
	}

	// The restore Job copies the export into the pod's volume.
	restore := s.Restore(t, store, "exec-export")
	r := restore.MustRun(t, podEnv(restore))
	copied := filepath.Join(root, "var/lib/univention-ldap/odbackup-restore", filepath.Base(file))
	if got := readFile(t, copied); got != ldif {
		t.Fatalf("the Job copied %d bytes to %s, want the snapshot's %d", len(got), copied, len(ldif))
	}
	if want := fmt.Sprintf("%d entries", strings.Count("\n"+ldif, "\ndn: ")); !strings.Contains(r.Stdout, want) {
		t.Errorf("the Job's log does not count %s:\n%s", want, r)
	}

	// The runbook's load commands, as an operator pastes them.
	load := runbookCode(t, string(s.File(t, "runbooks/nubus.md")), "sh", "slapadd -f")
	env := podEnv(restore)
	env["KUBECONFIG"] = e.Kube.Kubeconfig
	r = Run(t, Cmd{Args: []string{"/bin/sh", "-c", load}, Env: env, Desc: "/bin/sh -c <the runbook's slapadd commands>"})
	if !r.OK() {
		t.Fatalf("the runbook's load commands failed:\n%s\n--- commands ---\n%s", r, load)
	}
	newDB := filepath.Join(root, "var/lib/univention-ldap/ldap")
	if _, err := os.Stat(filepath.Join(newDB, "data.mdb")); err != nil {
		t.Fatalf("the runbook's commands left no database in the pod's data directory: %v", err)
	}

	// The pod restarts: a slapd started on the new database (its
	// configuration is the pod's, with the data directory where the pod has
	// it, here) serves the backup's entries, and not what came after.
	conf := regexp.MustCompile(`(?m)^directory .*$`).ReplaceAllString(readFile(t, e.LDAP.Conf), "directory "+newDB)
	run := t.TempDir()
	conf = regexp.MustCompile(`(?m)^(pidfile|argsfile) .*$`).ReplaceAllString(conf, "$1 "+run+"/slapd.$1")
	writeFile(t, filepath.Join(run, "slapd.conf"), []byte(conf))
	url := "ldap://127.0.0.1:" + freePort(t) + "/"
	StartServer(t, []string{"slapd", "-d", "0", "-h", url, "-f", filepath.Join(run, "slapd.conf")},
		Cmd{Args: []string{"ldapsearch", "-x", "-LLL", "-H", url, "-s", "base", "-b", "", "namingContexts"}})
	if got := e.LDAPSubtree(t, url, ou); got != before {
		t.Errorf("the subtree after the restore:\n%s", lineDiff(before, got))
	}
	if got := e.LDAPSubtree(t, url, junk); got != "" {
		t.Errorf("the entry added after the backup is still there:\n%s", got)
	}
}

func ldapModify(t testing.TB, e *Env, tool, ldif string) {
	t.Helper()
	MustRun(t, Cmd{Args: []string{tool, "-x", "-H", e.LDAP.URL, "-D", e.LDAP.RootDN, "-w", e.LDAP.Password},
		Stdin: strings.NewReader(ldif)})
}

// ldapPodRoot is the file system of the stand-in LDAP pod: its
// configuration at etc/ldap/slapd.conf (the test server's, with the data
// directory where the pod has it), the schema files it includes, and a
// fresh volume at var/lib/univention-ldap.
func ldapPodRoot(t testing.TB, e *Env) string {
	t.Helper()
	root := t.TempDir()
	conf := readFile(t, e.LDAP.Conf)
	conf = regexp.MustCompile(`(?m)^directory .*$`).ReplaceAllString(conf, "directory /var/lib/univention-ldap/ldap")
	writeFile(t, filepath.Join(root, "etc/ldap/slapd.conf"), []byte(conf))
	schemas, _ := filepath.Glob("/etc/ldap/schema/*.schema")
	for _, f := range schemas {
		writeFile(t, filepath.Join(root, "etc/ldap/schema", filepath.Base(f)), []byte(readFile(t, f)))
	}
	if err := os.MkdirAll(filepath.Join(root, "var/lib/univention-ldap/ldap"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// slapdRecordOf is what an LDIF export records of the slapd configuration
// conf, read here independently of the generated script: its modulepath
// and moduleload lines, then every line of the schema files it includes
// (paths under /etc/ldap read from root, the pod's file system).
func slapdRecordOf(t testing.TB, conf, root string) string {
	t.Helper()
	var b strings.Builder
	lines := strings.Split(readFile(t, conf), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "modulepath ") || strings.HasPrefix(l, "moduleload ") {
			b.WriteString("# odbackup: slapd " + l + "\n")
		}
	}
	for _, l := range lines {
		f, ok := strings.CutPrefix(l, "include ")
		if !ok || !strings.HasSuffix(f, ".schema") {
			continue
		}
		for _, sl := range strings.SplitAfter(readFile(t, filepath.Join(root, f)), "\n") {
			if sl != "" {
				b.WriteString("# odbackup: schema " + strings.TrimSuffix(sl, "\n") + "\n")
			}
		}
	}
	if !strings.Contains(b.String(), "# odbackup: schema ") {
		t.Fatalf("%s includes no schema file", conf)
	}
	return b.String()
}
