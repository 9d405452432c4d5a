package generator_test

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/schema"
)

// defined is every name a runbook or restore Job may use at one site, by
// what it names: what the catalog (resolved for the site), the policy and
// the generated files define, and what the runbooks' own commands create.
type defined map[string]map[string]bool

func (d defined) add(kind string, names ...string) {
	if d[kind] == nil {
		d[kind] = map[string]bool{}
	}
	for _, n := range names {
		d[kind][n] = true
	}
}

func definedNames(t *testing.T, site *schema.Site, tree generator.Tree) defined {
	t.Helper()
	d := defined{}
	pol := site.Policy
	secretRef := func(r *schema.SecretKeyRef) {
		if r != nil {
			d.add("secret", r.Name)
			d.add("secretkey", r.Name+"/"+r.Key)
		}
	}
	for _, a := range site.Apps {
		if !a.Deployed {
			continue
		}
		for _, w := range a.Workloads {
			d.add("workload", strings.ToLower(w.Kind)+"/"+w.Name)
		}
		for _, c := range a.Verify {
			if c.Exec != nil && c.Exec.Container != "" {
				d.add("container", c.Exec.Container)
			}
		}
		for _, st := range a.Stores {
			if st.Status != schema.StatusBackup {
				continue
			}
			c := st.Connection
			secretRef(c.PasswordSecret)
			secretRef(c.SecretKeySecret)
			if st.Kind == "postgresql" || st.Kind == "mariadb" {
				d.add("dbhost", c.Host)
			}
			switch st.Kind {
			case "pvc":
				d.add("claim", c.Claim)
				d.add("selector", "odbackup.io/store="+storeLabel(st.ID))
			case "redis":
				d.add("claim", c.Claim)
				d.add("workload", "statefulset/"+c.Workload)
			case "cassandra":
				d.add("pod", c.Pod)
				d.add("container", c.Container)
			case "configmap", "secret":
				d.add(st.Kind, c.Name)
			}
			if e := st.Export; e != nil {
				d.add("pod", e.Pod)
				d.add("container", e.Container)
			}
			d.add("store", st.ID)
		}
	}
	for _, t := range pol.Targets {
		secretRef(&t.Restic.PasswordSecret)
		if c := t.Restic.S3Credentials; c != nil {
			secretRef(&c.AccessKeyID)
			secretRef(&c.SecretAccessKey)
		}
		if c := t.Restic.RESTCredentials; c != nil {
			secretRef(&c.Username)
			secretRef(&c.Password)
		}
		if m := t.BucketMirror; m != nil {
			secretRef(&m.Credentials.AccessKeyID)
			secretRef(&m.Credentials.SecretAccessKey)
			secretRef(&m.Encryption.PasswordSecret)
			secretRef(&m.Encryption.SaltSecret)
		}
	}
	d.add("configmap", "kube-root-ca.crt")
	d.add("selector", "odbackup.io/site="+pol.Site)
	if _, ok := tree[path.Join("snapshotclass", pol.Snapshot.ClassName+".yaml")]; ok {
		d.add("volumesnapshotclass", pol.Snapshot.ClassName)
	}
	d.add("host", pol.Site)
	for _, p := range tree.Paths() {
		d.add("file", p)
		if strings.HasPrefix(p, "cronjobs/") {
			d.add("workload", "cronjob/"+strings.TrimSuffix(path.Base(p), ".yaml"))
		}
		for _, doc := range bytes.Split(tree[p], []byte("\n---\n")) {
			var meta struct {
				Kind     string
				Metadata struct{ Name string }
			}
			if err := yaml.Unmarshal(doc, &meta); err == nil && meta.Kind == "Job" {
				d.add("job", meta.Metadata.Name)
				// The runbooks find a Job's pod by its label.
				var j batchv1.Job
				if err := yaml.Unmarshal(doc, &j); err == nil {
					if v := j.Spec.Template.Labels["odbackup.io/job"]; v != "" {
						d.add("selector", "odbackup.io/job="+v)
					}
				}
			}
		}
	}
	return d
}

// storeLabel is the label value the snapshot jobs give a store's
// VolumeSnapshots.
func storeLabel(id string) string { return manifest.StoreLabel(id) }

// nameRefs are the patterns by which runbooks and restore Jobs name
// objects; each yields (what it names, the name).
var nameRefs = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"workload", regexp.MustCompile(`\b((?:cronjob|deployment|statefulset)/[a-z0-9][a-z0-9.-]*[a-z0-9])\b`)},
	{"job", regexp.MustCompile(`\bjob/([a-z0-9][a-z0-9.-]*[a-z0-9])\b`)},
	{"secret", regexp.MustCompile(`\bget secret ([a-z0-9][a-z0-9.-]*)`)},
	{"secret", regexp.MustCompile(`"secretKeyRef":\{"name":"([^"]+)"`)},
	{"secretkey", regexp.MustCompile(`get secret ([a-z0-9.-]+) --output=go-template='\{\{index \.data "([^"]+)"`)},
	{"claim", regexp.MustCompile(`\bget pvc ([a-z0-9][a-z0-9.-]*)`)},
	{"claim", regexp.MustCompile(`(?m)^claim=([a-z0-9.-]+)$`)},
	{"pod", regexp.MustCompile(`\bexec (?:--stdin )?([a-z0-9][a-z0-9.-]*[a-z0-9]) --container=`)},
	{"pod", regexp.MustCompile(`\bdelete pod ([a-z0-9][a-z0-9.-]*)`)},
	{"pod", regexp.MustCompile(`\bpod/([a-z0-9][a-z0-9.-]*[a-z0-9])\b`)},
	{"configmap", regexp.MustCompile(`\bget configmap ([a-z0-9][a-z0-9.-]*)`)},
	{"container", regexp.MustCompile(`--container=([a-z0-9-]+)`)},
	{"selector", regexp.MustCompile(`selector=(odbackup\.io/[a-z]+=[a-z0-9.-]+)`)},
	{"volumesnapshotclass", regexp.MustCompile(`\bvolumesnapshotclass ([a-z0-9][a-z0-9.-]*)`)},
	{"file", regexp.MustCompile(`\b((?:restore|snapshotclass|cronjobs|rbac)/[a-z0-9./-]+\.yaml)\b`)},
	{"host", regexp.MustCompile(`restic [a-z]+ --host=([a-z0-9-]+)`)},
	{"dbhost", regexp.MustCompile(`"--host=([^"]+)"`)},
	{"store", regexp.MustCompile("--tag='?store=([^',\\s\"`]+)")},
	{"store", regexp.MustCompile("restore_stream [\"']?store=([^',\\s\"`]+)")},
	{"store", regexp.MustCompile(`odbackup\.io/store-id: (\S+)`)},
}

// namesIn returns what a text names, as "kind name" strings.
func namesIn(text string) []string {
	var out []string
	for _, ref := range nameRefs {
		for _, m := range ref.re.FindAllStringSubmatch(text, -1) {
			name := m[1]
			if ref.kind == "secretkey" {
				name = m[1] + "/" + m[2]
			}
			// "$w" loops and similar shell words are not names.
			if strings.ContainsAny(name, "$\"") {
				continue
			}
			out = append(out, ref.kind+" "+name)
		}
	}
	return out
}

// createdBy are the names the runbook's own commands create: a throw-away
// Pod or a Job started from a CronJob.
var createdBy = []*regexp.Regexp{
	regexp.MustCompile(`\brun ([a-z0-9-]+) --rm`),
	regexp.MustCompile(`create job --from=cronjob/[a-z0-9-]+ ([a-z0-9-]+)`),
}

// TestRunbooksNameOnlyWhatExists proves that every object a runbook or a
// restore Job names (workloads, claims, Secrets and their keys, ConfigMaps,
// pods and containers, the VolumeSnapshotClass, labels, CronJobs, restore
// files, restic hosts and store tags) is defined by the catalog, the
// policy or the generated files, and that the only placeholder a runbook
// holds is <snapshot>.
func TestRunbooksNameOnlyWhatExists(t *testing.T) {
	sites, err := exampleSites()
	if err != nil {
		t.Fatal(err)
	}
	placeholder := regexp.MustCompile(`<[A-Za-z][^<>\n]*>`)
	for name, tree := range examples(t) {
		site := sites[name]
		d := definedNames(t, site, tree)
		checked := 0
		for _, p := range tree.Paths() {
			text := string(tree[p])
			switch {
			case strings.HasPrefix(p, "runbooks/"):
				for _, m := range placeholder.FindAllString(text, -1) {
					if m != "<snapshot>" {
						t.Errorf("%s/%s: placeholder %s; a runbook fills in everything but <snapshot>", name, p, m)
					}
				}
				for _, re := range createdBy {
					for _, m := range re.FindAllStringSubmatch(text, -1) {
						d.add("job", m[1])
					}
				}
				for _, link := range regexp.MustCompile(`\]\(([^)#]+)(?:#[^)]*)?\)`).FindAllStringSubmatch(text, -1) {
					target := path.Clean(path.Join(path.Dir(p), link[1]))
					if !d["file"][target] {
						t.Errorf("%s/%s: link to %s, which the tree does not have", name, p, link[1])
					}
				}
			case strings.HasPrefix(p, "restore/"):
				text = restoreText(t, name+"/"+p, tree[p])
			default:
				continue
			}
			for _, ref := range namesIn(text) {
				kind, n, _ := strings.Cut(ref, " ")
				checked++
				if !d[kind][n] {
					t.Errorf("%s/%s names %s %q, which neither the catalog, the policy nor the generated files define", name, p, kind, n)
				}
			}
		}
		if checked < 100 {
			t.Errorf("%s: only %d names checked; the patterns no longer match the runbooks", name, checked)
		}
	}
}

// restoreText is what a restore file names, one name per line in the forms
// namesIn reads: its scripts, the Secrets its environment reads, the
// claims it mounts and the objects its Role names.
func restoreText(t *testing.T, where string, data []byte) string {
	var b strings.Builder
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		switch meta.Kind {
		case "Job":
			var j batchv1.Job
			if err := yaml.Unmarshal(doc, &j); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			fmt.Fprintf(&b, "odbackup.io/store-id: %s\n", j.Annotations["odbackup.io/store-id"])
			spec := j.Spec.Template.Spec
			for _, c := range podContainers(&spec) {
				b.WriteString(scriptOf(c) + "\n")
				for _, e := range c.Env {
					if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil {
						fmt.Fprintf(&b, "get secret %s --output=go-template='{{index .data %q\n", r.SecretKeyRef.Name, r.SecretKeyRef.Key)
					}
				}
			}
			for _, v := range spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					fmt.Fprintf(&b, "get pvc %s\n", v.PersistentVolumeClaim.ClaimName)
				}
				if v.Projected != nil {
					for _, s := range v.Projected.Sources {
						if s.ConfigMap != nil && s.ConfigMap.Name != "kube-root-ca.crt" {
							fmt.Fprintf(&b, "configmap %s\n", s.ConfigMap.Name)
						}
					}
				}
			}
		case "Role":
			var r rbacv1.Role
			if err := yaml.Unmarshal(doc, &r); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			for _, rule := range r.Rules {
				for _, n := range rule.ResourceNames {
					switch rule.Resources[0] {
					case "persistentvolumeclaims":
						fmt.Fprintf(&b, "get pvc %s\n", n)
					case "statefulsets", "deployments":
						fmt.Fprintf(&b, "%s/%s\n", strings.TrimSuffix(rule.Resources[0], "s"), n)
					case "pods", "pods/exec":
						fmt.Fprintf(&b, "delete pod %s\n", n)
					case "secrets":
						fmt.Fprintf(&b, "get secret %s\n", n)
					case "configmaps":
						fmt.Fprintf(&b, "get configmap %s\n", n)
					default:
						t.Errorf("%s: the test does not know how to check names of %s", where, rule.Resources[0])
					}
				}
			}
		}
	}
	return b.String()
}
