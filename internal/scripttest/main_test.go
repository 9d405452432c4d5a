package scripttest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/internal/scripttest/stubs"
	"github.com/odbackup/odbackup/schema"
)

func TestMain(m *testing.M) {
	cleanup, err := BuildStubs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	if name := os.Getenv(mutationEnv); name != "" && mutated.Load() == 0 {
		fmt.Fprintf(os.Stderr, "mutation %s changed no script\n", name)
		code = 3
	}
	os.Exit(code)
}

var loadSchema = sync.OnceValues(schema.Load)

// generate evaluates a policy and generates its tree.
func generate(t testing.TB, file string, src []byte) map[string][]byte {
	t.Helper()
	sch, err := loadSchema()
	if err != nil {
		t.Fatalf("loading the schema: %v", err)
	}
	site, err := sch.Evaluate(file, src)
	if err != nil {
		var b strings.Builder
		if ps, ok := schema.AsProblems(err); ok {
			ps.Print(&b, filepath.Dir(file))
		} else {
			b.WriteString(err.Error())
		}
		t.Fatalf("the policy %s is invalid:\n%s", file, b.String())
	}
	tree, err := generator.Generate(site)
	if err != nil {
		t.Fatalf("generating %s: %v", file, err)
	}
	return tree
}

var exampleTrees sync.Map // site file → map[string][]byte

// example generates examples/<name>/site.cue once per test binary.
func example(t testing.TB, name string) []*Step {
	t.Helper()
	file := filepath.Join("..", "..", "examples", name, "site.cue")
	tree, ok := exampleTrees.Load(file)
	if !ok {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		tree, _ = exampleTrees.LoadOrStore(file, generate(t, file, src))
	}
	return steps(t, tree.(map[string][]byte))
}

// steps decodes a tree's steps, with the mutation of
// ODBACKUP_SCRIPTTEST_MUTATION applied (see mutations_test.go).
func steps(t testing.TB, tree map[string][]byte) []*Step {
	t.Helper()
	s, err := Steps(tree)
	if err != nil {
		t.Fatal(err)
	}
	mutateSteps(t, s)
	return s
}

var testTrees sync.Map // policy source → map[string][]byte

// testSite generates a small policy: site "site-a" on openDesk EE v1.18.1
// with only apps deployed, one target "t" (restic on S3 and a bucket
// mirror), plus extra (CUE: decisions, retention, overrides).
func testSite(t testing.TB, site string, apps []string, extra string) []*Step {
	t.Helper()
	sch, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	cat := sch.Catalog("opendesk")
	line := schema.ReleaseLine("v1.18.1")
	var list strings.Builder
	for _, id := range cat.AppIDs() {
		a := cat.Apps[id]
		if slices.Contains(a.Editions, "ee") && slices.Contains(a.Releases, line) {
			fmt.Fprintf(&list, "\t%q: deployed: %v\n", id, slices.Contains(apps, id))
		}
	}
	src := fmt.Sprintf(`site:      %q
edition:   "ee"
release:   "v1.18.1"
namespace: "opendesk"
domain:    "opendesk.scripttest.example"
targets: t: {
	restic: {
		repository:     "s3:https://s3.scripttest.example/repo"
		passwordSecret: {name: "restic", key: "password"}
		s3Credentials: {accessKeyID: {name: "s3", key: "id"}, secretAccessKey: {name: "s3", key: "secret"}}
	}
	bucketMirror: {
		endpoint: "https://s3.scripttest.example"
		region:   "eu-1"
		bucket:   "mirror"
		credentials: {accessKeyID: {name: "s3", key: "id"}, secretAccessKey: {name: "s3", key: "secret"}}
		encryption: {passwordSecret: {name: "crypt", key: "password"}, saltSecret: {name: "crypt", key: "salt"}}
	}
}
snapshot: {driver: "hostpath.csi.k8s.io", keep: 3}
services: {
	postgresql: {host: "pg.scripttest.example", port: 5432, version: 15}
	mariadb: {host: "mariadb.scripttest.example", port: 3306}
	redis: {host: "redis.scripttest.example", port: 6379}
	s3: {endpoint: "https://s3.scripttest.example", region: "eu-1"}
}
apps: {
%s}
%s
`, site, list.String(), extra)
	if tree, ok := testTrees.Load(src); ok {
		return steps(t, tree.(map[string][]byte))
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "site.cue")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, _ := testTrees.LoadOrStore(src, generate(t, file, []byte(src)))
	return steps(t, tree.(map[string][]byte))
}

// backupStep is the step of a backup CronJob whose script backs up
// storeID: its logical export (slapcat) when export is true.
func backupStep(t testing.TB, all []*Step, storeID string, export bool) *Step {
	t.Helper()
	var found []*Step
	for _, s := range all {
		if s.Kind == "CronJob" && !s.Copy() && !s.Drill() && s.StoreID() == storeID && strings.HasPrefix(s.Name, "export-") == export && !s.Offsite() {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one backup step (export=%v) of %s, found %d", export, storeID, len(found))
	}
	return found[0]
}

// job is every step of the Pod of owner's file.
func job(all []*Step, file string) []*Step {
	var out []*Step
	for _, s := range all {
		if s.File == file && s.Kind == "CronJob" {
			out = append(out, s)
		}
	}
	return out
}

// maintenance is the restic maintenance of target.
func maintenance(t testing.TB, all []*Step, target string) *Step {
	t.Helper()
	var found []*Step
	for _, s := range all {
		if s.Kind == "CronJob" && s.Annotations["odbackup.io/target"] == target && !s.Copy() {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one maintenance step of target %s, found %d", target, len(found))
	}
	return found[0]
}

// restoreStep is the restore Job's step of storeID by method.
func restoreStep(t testing.TB, all []*Step, storeID, method string) *Step {
	t.Helper()
	var found []*Step
	for _, s := range all {
		if s.Kind == "Job" && !s.Copy() && s.Annotations["odbackup.io/store-id"] == storeID && s.Annotations["odbackup.io/method"] == method {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one restore step of %s (%s), found %d", storeID, method, len(found))
	}
	return found[0]
}

// snapshotsOf are the repository's snapshots tagged store=storeID.
func snapshotsOf(sb *Sandbox, storeID string) []stubs.Snapshot {
	var out []stubs.Snapshot
	for _, s := range sb.Snapshots() {
		if s.HasTag("store=" + storeID) {
			out = append(out, s)
		}
	}
	return out
}

// callsOf are the calls of cmd whose line contains every word.
func callsOf(calls []stubs.Call, cmd string, words ...string) []stubs.Call {
	var out []stubs.Call
	for _, c := range calls {
		if c.Cmd != cmd {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(c.Line(), w)
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}

// regexpFind is the first submatch of pattern in s; none fails the test.
func regexpFind(t testing.TB, pattern, s string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", pattern, s)
	}
	return m[1]
}
