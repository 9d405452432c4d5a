package e2e

// This file builds a site policy for a test with odbackup's own schema and
// generator (in-process: what `odbackup build` writes), decodes the
// generated manifests, and runs the scripts of their containers on this host
// with the container's environment: literal values as generated, Secret
// references replaced by the test's values, and PATH, HOME, TMPDIR, the
// restic cache and KUBECONFIG pointing at this host. A script is never
// copied into a test: it is always taken from the generated manifest.

import (
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/internal/scripttest"
	"github.com/odbackup/odbackup/schema"
)

// loadSchema compiles the embedded CUE schema once per test binary.
var loadSchema = sync.OnceValues(schema.Load)

// SiteSpec describes the policy a test builds. The base policy points every
// service at the local servers: PostgreSQL, MariaDB and Redis through
// services.*, S3 (the source buckets, the restic repository and the bucket
// mirror) at versitygw, the namespace at a fresh one on the API server.
type SiteSpec struct {
	// Site is the site name (restic --host); "" means a unique one.
	Site string
	// Edition and Release default to "ee" and "v1.18.1".
	Edition, Release string
	// Apps are the deployed apps; every other catalog app is deployed:
	// false, so a test builds only what it needs.
	Apps []string
	// Policy is CUE appended to the base policy: decisions, overrides,
	// retention.
	Policy string
	// Repo and Mirror reuse a restic repository bucket and a mirror bucket
	// (two sites in one repository); "" creates new ones.
	RepoBucket, MirrorBucket string
	// RepoPassword reuses a repository's password; "" makes one.
	RepoPassword string
	// Repo and MirrorEndpoint replace the restic repository URL and the
	// bucket mirror's endpoint (an unreachable target).
	Repo, MirrorEndpoint string
	// NewTarget leaves the target's buckets and repository to the test:
	// their names are chosen, nothing is created. Otherwise BuildSite runs
	// the Job that creates the repository (repository/<target>.yaml), as
	// the site runbook's step 1 has the operator do, unless Repo is set.
	NewTarget bool
}

// Site is a built policy: the generated tree, decoded, and the values of the
// Secrets it names.
type Site struct {
	e         *Env
	Name      string
	Namespace string
	// Dir holds the generated tree as `odbackup build` writes it.
	Dir  string
	Tree generator.Tree
	// Repo is the restic repository URL; RepoBucket and MirrorBucket the
	// buckets of the target.
	Repo, RepoBucket, MirrorBucket string
	// Secrets are the test values of the Secrets the manifests name, keyed
	// "name/key". Tests add their own (database passwords) before running.
	Secrets map[string]string
	// Cache is the restic cache directory every script of the site uses
	// (RESTIC_CACHE_DIR); a test of its own keeps runs from sharing state.
	Cache string

	applied  sync.Once
	tokens   map[string]string // ServiceAccount → kubeconfig file
	tokensMu sync.Mutex
}

// BuildSite writes the policy of spec, builds it and returns the site. The
// namespace is created on the API server; nothing is applied yet (Apply).
func (e *Env) BuildSite(t testing.TB, spec SiteSpec) *Site {
	t.Helper()
	s := &Site{e: e, Name: spec.Site, Secrets: map[string]string{}, Cache: t.TempDir(), tokens: map[string]string{}}
	if s.Name == "" {
		s.Name = Unique("e2e-")
	}
	s.Namespace = e.CreateNamespace(t, "e2e-")
	s.RepoBucket, s.MirrorBucket = spec.RepoBucket, spec.MirrorBucket
	bucket := e.CreateBucket
	if spec.NewTarget {
		bucket = func(_ testing.TB, prefix string) string { return Unique(prefix) }
	}
	if s.RepoBucket == "" {
		s.RepoBucket = bucket(t, "repo-")
	}
	if s.MirrorBucket == "" {
		s.MirrorBucket = bucket(t, "mirror-")
	}
	s.Repo = "s3:" + e.S3.Endpoint + "/" + s.RepoBucket + "/restic"
	if spec.Repo != "" {
		s.Repo = spec.Repo
	}
	password := spec.RepoPassword
	if password == "" {
		password = Unique("restic-pw-")
	}
	for k, v := range map[string]string{
		"odbackup-restic/password":       password,
		"odbackup-s3/accessKeyID":        e.S3.AccessKey,
		"odbackup-s3/secretAccessKey":    e.S3.SecretKey,
		"odbackup-rclone-crypt/password": Unique("crypt-pw-"),
		"odbackup-rclone-crypt/salt":     Unique("crypt-salt-"),
	} {
		s.Secrets[k] = v
	}
	src := s.policy(t, spec)
	dir := t.TempDir()
	file := filepath.Join(dir, "site.cue")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	sch, err := loadSchema()
	if err != nil {
		t.Fatalf("loading the schema: %v", err)
	}
	site, err := sch.Evaluate(file, []byte(src))
	if err != nil {
		var b strings.Builder
		if ps, ok := schema.AsProblems(err); ok {
			ps.Print(&b, dir)
		} else {
			b.WriteString(err.Error())
		}
		t.Fatalf("the test policy is invalid:\n%s\n--- policy ---\n%s", b.String(), src)
	}
	site.File = "site.cue"
	tree, err := generator.Generate(site)
	if err != nil {
		t.Fatalf("generating: %v", err)
	}
	s.Tree = tree
	s.Dir = filepath.Join(dir, "out", s.Name)
	for _, p := range tree.Paths() {
		f := filepath.Join(s.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, tree[p], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !spec.NewTarget && spec.Repo == "" {
		s.RepositoryInit(t).MustRun(t, nil)
	}
	return s
}

// RepositoryInit returns the container of the Job that creates the site's
// restic repository (repository/<target>.yaml; a test site has one target).
func (s *Site) RepositoryInit(t testing.TB) *Container {
	t.Helper()
	var found []*Container
	for _, p := range s.Tree.Paths() {
		if !strings.HasPrefix(p, "repository/") {
			continue
		}
		for _, doc := range Docs(s.Tree[p]) {
			if kindOf(t, doc) == "Job" {
				var j batchv1.Job
				decodeStrict(t, doc, &j)
				found = append(found, containers(p, j.Spec.Template.Spec, s)...)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one container that creates the repository, found %d", len(found))
	}
	return found[0]
}

// policy is the test policy: the base (every service local) plus spec.Policy.
func (s *Site) policy(t testing.TB, spec SiteSpec) string {
	t.Helper()
	e := s.e
	edition, release := spec.Edition, spec.Release
	if edition == "" {
		edition = "ee"
	}
	if release == "" {
		release = "v1.18.1"
	}
	sch, err := loadSchema()
	if err != nil {
		t.Fatalf("loading the schema: %v", err)
	}
	cat := sch.Catalog("opendesk")
	line := schema.ReleaseLine(release)
	var apps strings.Builder
	for _, id := range cat.AppIDs() {
		a := cat.Apps[id]
		if !slices.Contains(a.Editions, edition) || !slices.Contains(a.Releases, line) {
			continue
		}
		fmt.Fprintf(&apps, "\t%q: deployed: %v\n", id, slices.Contains(spec.Apps, id))
	}
	for _, id := range spec.Apps {
		if _, ok := cat.Apps[id]; !ok {
			t.Fatalf("SiteSpec.Apps: no app %q in the catalog", id)
		}
	}
	ref := func(name, key string) string { return fmt.Sprintf("{name: %q, key: %q}", name, key) }
	mirror := e.S3.Endpoint
	if spec.MirrorEndpoint != "" {
		mirror = spec.MirrorEndpoint
	}
	return fmt.Sprintf(`// The policy of an end-to-end test: every service on this host.
site:      %q
edition:   %q
release:   %q
namespace: %q
domain:    "e2e.odbackup.test"
targets: e2e: {
	restic: {
		repository:     %q
		passwordSecret: %s
		s3Credentials: {accessKeyID: %s, secretAccessKey: %s}
	}
	bucketMirror: {
		endpoint: %q
		region:   %q
		bucket:   %q
		prefix:   "mirror"
		credentials: {accessKeyID: %s, secretAccessKey: %s}
		encryption: {passwordSecret: %s, saltSecret: %s}
	}
}
snapshot: driver: "hostpath.csi.k8s.io"
services: {
	postgresql: {host: %q, port: %s, version: 15}
	mariadb: {host: %q, port: %s}
	redis: {host: %q, port: %s}
	s3: {endpoint: %q, region: %q}
}
apps: {
%s}
%s
`, s.Name, edition, release, s.Namespace,
		s.Repo, ref("odbackup-restic", "password"),
		ref("odbackup-s3", "accessKeyID"), ref("odbackup-s3", "secretAccessKey"),
		mirror, e.S3.Region, s.MirrorBucket,
		ref("odbackup-s3", "accessKeyID"), ref("odbackup-s3", "secretAccessKey"),
		ref("odbackup-rclone-crypt", "password"), ref("odbackup-rclone-crypt", "salt"),
		e.PG.Host, e.PG.Port, e.MariaDB.Host, e.MariaDB.Port, e.Redis.Host, e.Redis.Port,
		e.S3.Endpoint, e.S3.Region, apps.String(), spec.Policy)
}

// RepoEnv is the environment of restic for the site's repository, as the
// test (not a generated script) uses it to look inside.
func (s *Site) RepoEnv(t testing.TB) map[string]string {
	t.Helper()
	env := s.e.ResticEnv(t, s.Repo, s.Secrets["odbackup-restic/password"])
	env["RESTIC_CACHE_DIR"] = s.Cache
	return env
}

// File returns a generated file; it fails the test if there is none.
func (s *Site) File(t testing.TB, p string) []byte {
	t.Helper()
	data, ok := s.Tree[p]
	if !ok {
		t.Fatalf("the generated tree has no %s; it has:\n%s", p, strings.Join(s.Tree.Paths(), "\n"))
	}
	return data
}

// Docs splits a generated YAML file into its documents.
func Docs(data []byte) [][]byte {
	var out [][]byte
	for _, d := range strings.Split(string(data), "\n---\n") {
		if strings.TrimSpace(d) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

// decodeStrict decodes one YAML document into v, refusing unknown fields.
func decodeStrict(t testing.TB, doc []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		t.Fatalf("decoding %T: %v\n%s", v, err, doc)
	}
}

// kindOf is the kind of a YAML document.
func kindOf(t testing.TB, doc []byte) string {
	t.Helper()
	var m struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return m.Kind
}

// Container is one generated container: a step of a backup CronJob, the
// restic maintenance, or a restore Job.
type Container struct {
	corev1.Container
	site *Site
	// Owner names the CronJob or Job ("cronjobs/odbackup-nubus.yaml").
	Owner string
	// ServiceAccount is the Pod's ServiceAccount.
	ServiceAccount string
	// API is true when the container mounts the API token.
	API bool
	// Pod is the whole Pod spec, for tests that look at its volumes.
	Pod corev1.PodSpec
	// Runbook is what the runbooks set in the environment as they apply
	// the Job (a restore's ODBACKUP_SNAPSHOT); extra overrides it.
	Runbook map[string]string
}

// Script is the container's script (the argument of sh -c).
func (c *Container) Script() string {
	if len(c.Command) != 3 || c.Command[1] != "-c" {
		panic(fmt.Sprintf("container %s of %s: command is not [SHELL -c SCRIPT]: %q", c.Name, c.Owner, c.Command))
	}
	return c.Command[2]
}

func containers(owner string, pod corev1.PodSpec, s *Site) []*Container {
	var out []*Container
	for _, list := range [][]corev1.Container{pod.InitContainers, pod.Containers} {
		for _, c := range list {
			cc := &Container{Container: c, site: s, Owner: owner, ServiceAccount: pod.ServiceAccountName, Pod: pod}
			for _, m := range c.VolumeMounts {
				if m.Name == "kube-api-access" {
					cc.API = true
				}
			}
			out = append(out, cc)
		}
	}
	return out
}

// CronJobs decodes every generated CronJob, by file.
func (s *Site) CronJobs(t testing.TB) map[string]*batchv1.CronJob {
	t.Helper()
	out := map[string]*batchv1.CronJob{}
	for _, p := range s.Tree.Paths() {
		if strings.HasPrefix(p, "cronjobs/") {
			var cj batchv1.CronJob
			decodeStrict(t, s.Tree[p], &cj)
			out[p] = &cj
		}
	}
	return out
}

// Backup returns the backup step of storeID: the container of a CronJob
// whose script backs up that store (not its logical export; see Export).
func (s *Site) Backup(t testing.TB, storeID string) *Container {
	t.Helper()
	return s.backupStep(t, storeID, false)
}

// Export returns the logical export step of storeID (slapcat of the LDAP
// primary).
func (s *Site) Export(t testing.TB, storeID string) *Container {
	t.Helper()
	return s.backupStep(t, storeID, true)
}

func (s *Site) backupStep(t testing.TB, storeID string, export bool) *Container {
	t.Helper()
	var found []*Container
	for p, cj := range s.CronJobs(t) {
		if !slices.Contains(strings.Split(cj.Annotations["odbackup.io/stores"], ","), storeID) {
			continue
		}
		for _, c := range containers(p, cj.Spec.JobTemplate.Spec.Template.Spec, s) {
			if strings.HasPrefix(c.Name, "copy-") {
				continue
			}
			if scripttest.StoreOf(c.Script()) == storeID && !scripttest.IsDrill(c.Script()) && strings.HasPrefix(c.Name, "export-") == export && !strings.HasPrefix(c.Name, "offsite-") {
				found = append(found, c)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one backup step (export=%v) of %s in the generated CronJobs, found %d", export, storeID, len(found))
	}
	return found[0]
}

// Offsite returns the off-site copy step of a volume store (the
// "offsite-" container beside its snapshot step).
func (s *Site) Offsite(t testing.TB, storeID string) *Container {
	t.Helper()
	for p, cj := range s.CronJobs(t) {
		for _, c := range containers(p, cj.Spec.JobTemplate.Spec.Template.Spec, s) {
			if strings.HasPrefix(c.Name, "offsite-") && !scripttest.IsDrill(c.Script()) && scripttest.StoreOf(c.Script()) == storeID {
				return c
			}
		}
	}
	t.Fatalf("no off-site copy step of %s in the generated CronJobs", storeID)
	return nil
}

// Maintenance returns the restic maintenance container of the site's target.
func (s *Site) Maintenance(t testing.TB) *Container {
	t.Helper()
	var found []*Container
	for p, cj := range s.CronJobs(t) {
		if cj.Annotations["odbackup.io/target"] != "" {
			found = append(found, containers(p, cj.Spec.JobTemplate.Spec.Template.Spec, s)...)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one restic maintenance container, found %d", len(found))
	}
	return found[0]
}

// Restore returns the container of the restore Job of storeID whose
// odbackup.io/method annotation is method (e.g. "pg_dump", "exec-export").
func (s *Site) Restore(t testing.TB, storeID, method string) *Container {
	t.Helper()
	var found []*Container
	for _, p := range s.Tree.Paths() {
		if !strings.HasPrefix(p, "restore/") {
			continue
		}
		for _, doc := range Docs(s.Tree[p]) {
			if kindOf(t, doc) != "Job" {
				continue
			}
			var j batchv1.Job
			decodeStrict(t, doc, &j)
			if j.Annotations["odbackup.io/store-id"] == storeID && j.Annotations["odbackup.io/method"] == method {
				found = append(found, containers(p, j.Spec.Template.Spec, s)...)
			}
		}
	}
	var steps []*Container
	for _, c := range found {
		if !strings.HasPrefix(c.Name, "copy-") {
			steps = append(steps, c)
		}
	}
	if len(steps) != 1 {
		t.Fatalf("want one restore container for %s (%s), found %d", storeID, method, len(steps))
	}
	// The file's ODBACKUP_SNAPSHOT is list (applied by accident, a Job
	// restores nothing); the runbooks apply it with latest or an ID, and
	// so do the tests unless they say otherwise.
	steps[0].Runbook = map[string]string{"ODBACKUP_SNAPSHOT": "latest"}
	return steps[0]
}

// Apply server-side applies the site's kustomization and every restore
// file (Jobs never run here: no controller-manager), once, so that the
// ServiceAccounts, Roles and RoleBindings exist.
func (s *Site) Apply(t testing.TB) {
	t.Helper()
	s.applied.Do(func() {
		s.e.MustKubectl(t, "", "apply", "--server-side", "--field-manager=odbackup-e2e", "-k", s.Dir)
		for _, p := range s.Tree.Paths() {
			if strings.HasPrefix(p, "restore/") {
				s.e.MustApplyFile(t, "", filepath.Join(s.Dir, filepath.FromSlash(p)))
			}
		}
	})
}

// Kubeconfig returns a kubeconfig that authenticates as ServiceAccount sa
// of the site's namespace with a token the API server issued, so a script
// run with it can do exactly what the generated Role allows.
func (s *Site) Kubeconfig(t testing.TB, sa string) string {
	t.Helper()
	s.Apply(t)
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	if f, ok := s.tokens[sa]; ok {
		return f
	}
	token := strings.TrimSpace(s.e.MustKubectl(t, "", "create", "token", sa, "--namespace", s.Namespace, "--duration=2h"))
	f := filepath.Join(filepath.Dir(s.Dir), "kubeconfig-"+sa)
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: %s
  user: {token: %q}
contexts:
- name: e2e
  context: {cluster: e2e, user: %s}
current-context: e2e
`, s.e.Kube.Server, sa, token, sa)
	if err := os.WriteFile(f, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.tokens[sa] = f
	return f
}

// Env is the container's environment on this host: its variables as
// generated, Secret references replaced by s.Secrets (a missing one fails
// the test), then what differs on this host: PATH (the pinned tools; with
// busybox's applets first where the image's shell is busybox), HOME and
// TMPDIR (fresh directories), RESTIC_CACHE_DIR (the site's), TZ=UTC, and
// KUBECONFIG: the container's ServiceAccount where it mounts the API
// token, else a file that does not exist. extra comes last.
func (c *Container) Env(t testing.TB, extra map[string]string) map[string]string {
	t.Helper()
	s := c.site
	env := map[string]string{}
	for _, v := range c.Container.Env {
		switch {
		case v.ValueFrom == nil:
			env[v.Name] = v.Value
		case v.ValueFrom.SecretKeyRef != nil:
			ref := v.ValueFrom.SecretKeyRef
			val, ok := s.Secrets[ref.Name+"/"+ref.Key]
			if !ok {
				t.Fatalf("%s, container %s: env %s takes Secret %s key %s, which the test gives no value", c.Owner, c.Name, v.Name, ref.Name, ref.Key)
			}
			env[v.Name] = val
		default:
			t.Fatalf("%s, container %s: env %s has an unexpected source %+v", c.Owner, c.Name, v.Name, v.ValueFrom)
		}
	}
	env["PATH"] = s.e.toolPath(t, c.busybox())
	env["HOME"] = t.TempDir()
	env["TMPDIR"] = t.TempDir()
	env["TZ"] = "UTC"
	if _, ok := env["RESTIC_CACHE_DIR"]; ok {
		env["RESTIC_CACHE_DIR"] = s.Cache
	}
	env["KUBECONFIG"] = "/nonexistent/odbackup-e2e/no-api-access"
	if c.API {
		env["KUBECONFIG"] = s.Kubeconfig(t, c.ServiceAccount)
	}
	for k, v := range c.Runbook {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// busybox reports whether the container's shell and tools are busybox's
// (scripttest.UsesBusybox, which the script tests share).
func (c *Container) busybox() bool { return scripttest.UsesBusybox(c.Container) }

// Shell is the shell that runs the script here: busybox sh where the image
// has busybox, else dash.
func (c *Container) Shell() []string {
	if c.busybox() {
		return []string{"busybox", "sh"}
	}
	return []string{"/bin/sh"}
}

// Cmd is the command that runs the container's script here.
func (c *Container) Cmd(t testing.TB, extra map[string]string) Cmd {
	t.Helper()
	desc := fmt.Sprintf("%s -c <script of %s, container %s>", strings.Join(c.Shell(), " "), c.Owner, c.Name)
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if k != "PATH" && !strings.HasPrefix(k, "ODBACKUP_E2E_") {
			desc = k + "=" + extra[k] + " " + desc
		}
	}
	return Cmd{Args: append(c.Shell(), "-c", c.Script()), Env: c.Env(t, extra), Timeout: 3 * time.Minute, Desc: desc}
}

// Run runs the container's script with its environment (see Env) plus extra.
func (c *Container) Run(t testing.TB, extra map[string]string) Result {
	t.Helper()
	return Run(t, c.Cmd(t, extra))
}

// MustRun is Run that fails the test unless the script exits 0.
func (c *Container) MustRun(t testing.TB, extra map[string]string) Result {
	t.Helper()
	r := c.Run(t, extra)
	if !r.OK() {
		t.Fatalf("%s, container %s failed:\n%s", c.Owner, c.Name, r)
	}
	return r
}

// toolPath is PATH for a generated script: with busybox, a directory of
// busybox applets first (as /tools is in the Pods); then the pinned tools
// and the test's PATH.
func (e *Env) toolPath(t testing.TB, busybox bool) string {
	t.Helper()
	p := os.Getenv("PATH")
	if !busybox {
		return p
	}
	dir := filepath.Join(e.Dir, "busybox-applets")
	busyboxOnce.Do(func() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		MustRun(t, Cmd{Args: []string{"busybox", "--install", "-s", dir}})
	})
	if _, err := os.Stat(filepath.Join(dir, "sh")); err != nil {
		t.Fatalf("busybox applets missing in %s: %v", dir, err)
	}
	return dir + ":" + p
}

var busyboxOnce sync.Once

// regexpFind returns the first submatch of pattern in s; it fails the test
// when there is none.
func regexpFind(t testing.TB, pattern, s string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", pattern, tail(s))
	}
	return m[1]
}

// runbookCode returns the first fenced code block of language lang in a
// generated runbook that contains substr.
func runbookCode(t testing.TB, markdown, lang, substr string) string {
	t.Helper()
	re := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```")
	for _, m := range re.FindAllStringSubmatch(markdown, -1) {
		if strings.Contains(m[1], substr) {
			return m[1]
		}
	}
	t.Fatalf("the runbook has no %s block containing %q", lang, substr)
	return ""
}

// SecretRef is "name/key" of the Secret the container's variable name
// takes its value from.
func (c *Container) SecretRef(t testing.TB, name string) string {
	t.Helper()
	for _, v := range c.Container.Env {
		if v.Name == name && v.ValueFrom != nil && v.ValueFrom.SecretKeyRef != nil {
			return v.ValueFrom.SecretKeyRef.Name + "/" + v.ValueFrom.SecretKeyRef.Key
		}
	}
	t.Fatalf("%s, container %s: no variable %s from a Secret", c.Owner, c.Name, name)
	return ""
}

// EnvValue is the literal value of the container's variable name.
func (c *Container) EnvValue(t testing.TB, name string) string {
	t.Helper()
	for _, v := range c.Container.Env {
		if v.Name == name && v.ValueFrom == nil {
			return v.Value
		}
	}
	t.Fatalf("%s, container %s: no literal variable %s", c.Owner, c.Name, name)
	return ""
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitNextSecond sleeps into the next second, so that two runs whose names
// or folders carry a time in seconds never share one.
func waitNextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 50*time.Millisecond).Sub(now))
}

// lineDiff lists the lines only in want and only in got.
func lineDiff(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return tail(b.String())
}

// RunUntil starts c in the background and polls ready every poll until it
// reports true: the moment to act on a running script (mark its snapshot
// ready, stop its database). It fails the test if c ends first, or ready
// stays false for a minute; the returned channel gets c's result.
func RunUntil(t testing.TB, c Cmd, what string, poll time.Duration, ready func() bool) <-chan Result {
	t.Helper()
	done := make(chan Result, 1)
	go func() { done <- Run(t, c) }()
	for deadline := time.Now().Add(time.Minute); !ready(); {
		select {
		case r := <-done:
			t.Fatalf("the script ended before %s:\n%s", what, r)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within a minute", what)
		}
		time.Sleep(poll)
	}
	return done
}
