package preflight

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/schema"
)

func TestClaimPattern(t *testing.T) {
	re := claimPattern("openproject-<web/worker>-*-tmp")
	for claim, want := range map[string]bool{
		"openproject-web-default-tmp":    true,
		"openproject-worker-default-tmp": true,
		"openproject-worker-x.y-tmp":     true,
		"openproject-cron-default-tmp":   false,
		"xopenproject-web-default-tmp":   false,
		"openproject-web-default-tmpx":   false,
		"openproject-web-Default-tmp":    false,
	} {
		if got := re.MatchString(claim); got != want {
			t.Errorf("%s: match %v, want %v", claim, got, want)
		}
	}
	if r := (ClaimRule{Claim: "data-cassandra-*", re: claimPattern("data-cassandra-*")}); !r.Matches("data-cassandra-0") || r.Matches("data-cassandra") {
		t.Error("data-cassandra-* matches wrongly")
	}
}

func TestHost(t *testing.T) {
	c := &collector{namespace: "opendesk", req: map[reqKey][]string{}, unchecked: map[string]*unchecked{}}
	for _, h := range []string{"postgresql", "mariadb.opendesk", "redis-headless.opendesk.svc", "cassandra.opendesk.svc.cluster.local",
		"pg.databases.svc.cluster.local", "db.example.org", "objectstorage.opendesk.school.example", "10.0.0.7"} {
		c.host(h, "store", "f.yaml")
	}
	var services []string
	for k := range c.req {
		services = append(services, string(k.kind)+" "+k.name)
	}
	slices.Sort(services)
	if want := []string{"Service cassandra", "Service mariadb", "Service postgresql", "Service redis-headless"}; !slices.Equal(services, want) {
		t.Errorf("services: %v, want %v", services, want)
	}
	var skipped []string
	for what, u := range c.unchecked {
		skipped = append(skipped, what+": "+u.why)
	}
	slices.Sort(skipped)
	want := []string{
		"host 10.0.0.7: outside the cluster",
		"host db.example.org: outside the cluster",
		"host objectstorage.opendesk.school.example: outside the cluster",
		"host pg.databases.svc.cluster.local: a Service of namespace databases",
	}
	if !slices.Equal(skipped, want) {
		t.Errorf("unchecked:\n%s\nwant:\n%s", strings.Join(skipped, "\n"), strings.Join(want, "\n"))
	}
}

// TestPodSpecs: every kind of reference a pod spec can make is read, and
// optional ones are not needed.
func TestPodSpecs(t *testing.T) {
	tree := map[string][]byte{
		"rbac/odbackup-x.yaml": []byte("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: odbackup-x\n"),
		"cronjobs/odbackup-x.yaml": []byte(`apiVersion: batch/v1
kind: CronJob
metadata:
  name: odbackup-x
  annotations: {odbackup.io/stores: "app/pvc/data,app/secret/s"}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: odbackup-x
          initContainers:
          - name: a
            env:
            - {name: A, valueFrom: {secretKeyRef: {name: s1, key: k1}}}
            - {name: B, valueFrom: {secretKeyRef: {name: s1, key: k2, optional: true}}}
            - {name: C, valueFrom: {configMapKeyRef: {name: c1, key: k3}}}
          containers:
          - name: b
            envFrom:
            - secretRef: {name: s2}
            - configMapRef: {name: c2, optional: true}
          volumes:
          - {name: v1, secret: {secretName: s3, items: [{key: k4, path: p}]}}
          - {name: v2, configMap: {name: c3}}
          - {name: v3, persistentVolumeClaim: {claimName: data}}
          - name: v4
            projected:
              sources:
              - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
              - secret: {name: s4, optional: true}
`),
	}
	c := &collector{namespace: "ns", req: map[reqKey][]string{}, unchecked: map[string]*unchecked{}}
	stores, err := c.podSpecs(tree)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"app/pvc/data": {"cronjobs/odbackup-x.yaml"}, "app/secret/s": {"cronjobs/odbackup-x.yaml"}}; !reflect.DeepEqual(stores, want) {
		t.Errorf("store files: %v", stores)
	}
	var got []string
	for k := range c.req {
		got = append(got, strings.TrimSpace(string(k.kind)+" "+k.name+" "+k.key))
	}
	slices.Sort(got)
	want := []string{
		"ConfigMap c1 k3", "ConfigMap c3", "ConfigMap kube-root-ca.crt", "ConfigMap kube-root-ca.crt ca.crt",
		"PersistentVolumeClaim data", "Secret s1 k1", "Secret s2", "Secret s3", "Secret s3 k4",
	}
	if !slices.Equal(got, want) {
		t.Errorf("requirements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A pod that runs as a ServiceAccount odbackup does not create is a
	// bug of odbackup's, said as such.
	delete(tree, "rbac/odbackup-x.yaml")
	if _, err := c.podSpecs(tree); err == nil || err.Error() != "cronjobs/odbackup-x.yaml runs as ServiceAccount odbackup-x, which no generated file creates" {
		t.Errorf("missing ServiceAccount: %v", err)
	}
}

func TestCheck(t *testing.T) {
	req := Requirements{
		Site: "s", Namespace: "ns",
		Required: []Requirement{
			{Kind: KindSecret, Name: "present", Key: "a", Files: []string{"f1"}},
			{Kind: KindSecret, Name: "partial", Key: "a", Files: []string{"f1"}},
			{Kind: KindSecret, Name: "partial", Key: "b", Files: []string{"f2"}},
			{Kind: KindSecret, Name: "partial", Key: "c", Files: []string{"f1"}},
			{Kind: KindSecret, Name: "absent", Key: "a", Files: []string{"f3"}},
			{Kind: KindConfigMap, Name: "cm", Files: []string{"f4"}},
			{Kind: KindWorkload, Name: "either", Files: []string{"f5"}},
			{Kind: KindStatefulSet, Name: "sts", Files: []string{"f6"}},
		},
		Claims: []ClaimRule{
			{Claim: "data", Store: "app/pvc/data", Status: schema.StatusBackup},
			{Claim: "minio", Store: "minio/pvc/minio", Status: schema.StatusNotDeployed},
			{Claim: "cache-*", Store: "app/pvc/cache", Status: schema.StatusNever, re: claimPattern("cache-*")},
		},
	}
	inv := Inventory{
		Namespace:   "ns",
		Claims:      []string{"cache-0", "data", "minio", "stray"},
		Deployments: []string{"either", "sts"},
		Secrets:     map[string][]string{"present": {"a"}, "partial": {"a", "x"}},
		ConfigMaps:  map[string][]string{"cm": nil},
	}
	r := Check(req, inv)
	want := []Missing{
		{Kind: KindSecret, Name: "absent", Keys: []string{"a"}, ObjectMissing: true, Files: []string{"f3"}},
		{Kind: KindSecret, Name: "partial", Keys: []string{"b", "c"}, HasKeys: []string{"a", "x"}, Files: []string{"f1", "f2"}},
		{Kind: KindStatefulSet, Name: "sts", ObjectMissing: true, Files: []string{"f6"}},
	}
	if !reflect.DeepEqual(r.Missing, want) {
		t.Errorf("missing:\n%+v\nwant:\n%+v", r.Missing, want)
	}
	wantU := []Unaccounted{
		{Claim: "minio", Stores: []StoreStatus{{Store: "minio/pvc/minio", Status: schema.StatusNotDeployed}}},
		{Claim: "stray"},
	}
	if !reflect.DeepEqual(r.Unaccounted, wantU) {
		t.Errorf("unaccounted:\n%+v\nwant:\n%+v", r.Unaccounted, wantU)
	}
	if r.OK() || r.Checked != 6 {
		t.Errorf("OK %v, checked %d (want false, 6 objects)", r.OK(), r.Checked)
	}
	text := string(Text(r))
	for _, line := range []string{
		"  Secret partial: no keys b, c (it has a, x)\n",
		"  Secret absent: not in the namespace (keys needed: a)\n",
		"      named by store minio/pvc/minio, which decides nothing here (not-deployed)\n",
		"FAILED: 3 of 6 objects missing or incomplete, 2 claims unaccounted for.\n",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("text lacks %q:\n%s", line, text)
		}
	}
}

// TestExamples: the requirements of every example come out of its
// generated files, with the files that need them.
func TestExamples(t *testing.T) {
	sch, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../examples/*/site.cue")
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(f)
		site, err := sch.Evaluate(abs, src)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := generator.Generate(site)
		if err != nil {
			t.Fatal(err)
		}
		req, err := Build(site, tree)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, q := range req.Required {
			if q.Name == "" {
				t.Errorf("%s: a %s without a name, from %v", f, q.Kind, q.Files)
			}
			for _, file := range q.Files {
				if _, ok := tree[file]; !ok {
					t.Errorf("%s: %s %s names %s, which is not generated", f, q.Kind, q.Name, file)
				}
			}
		}
		if !strings.Contains(f, "ce-school") {
			continue
		}
		find := func(kind Kind, name, key string) []string {
			for _, q := range req.Required {
				if q.Kind == kind && q.Name == name && q.Key == key {
					return q.Files
				}
			}
			return nil
		}
		for _, c := range []struct {
			kind      Kind
			name, key string
			files     []string
		}{
			{KindClaim, "xwiki-data-xwiki-0", "", []string{"cronjobs/odbackup-xwiki.yaml", "restore/xwiki/files-xwiki-data-xwiki-0.yaml", "restore/xwiki/pvc-xwiki-data-xwiki-0.yaml"}},
			{KindStatefulSet, "xwiki", "", []string{"restore/xwiki/files-xwiki-data-xwiki-0.yaml", "restore/xwiki/pvc-xwiki-data-xwiki-0.yaml", "runbooks/xwiki.md"}},
			{KindSecret, "database-xwiki-password", "password", []string{"cronjobs/odbackup-xwiki.yaml", "restore/xwiki/postgresql-xwiki.yaml"}},
			{KindConfigMap, "migrations-status", "", []string{"cronjobs/odbackup-migrations.yaml", "restore/migrations/configmap-migrations-status.yaml"}},
			{KindStatefulSet, "ums-ldap-server-primary", "", nil}, // the pod the LDAP export execs into
		} {
			got := find(c.kind, c.name, c.key)
			if got == nil || c.files != nil && !slices.Equal(got, c.files) {
				t.Errorf("%s %s %s: files %v, want %v", c.kind, c.name, c.key, got, c.files)
			}
		}
		// Stores that are never backed up need nothing.
		if find(KindClaim, "clamav-database-clamav-simple-0", "") != nil {
			t.Error("a never-backed-up claim is required")
		}
	}
}
