package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// objectState is what a restore must bring back of a ConfigMap or Secret.
type objectState struct {
	Type        string            `json:"type,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Data        map[string]string `json:"data,omitempty"`
	BinaryData  map[string]string `json:"binaryData,omitempty"`
}

// ObjectState reads kind/name of namespace ns (without the metadata the
// API server assigns).
func (e *Env) ObjectState(t testing.TB, ns, kind, name string) (objectState, bool) {
	t.Helper()
	r := e.KubectlCmd(t, "", "get", kind, name, "--namespace", ns, "--output=json")
	if !r.OK() {
		if strings.Contains(r.Stderr, "NotFound") {
			return objectState{}, false
		}
		t.Fatalf("kubectl get: %s", r)
	}
	var o struct {
		Metadata struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Type       string            `json:"type"`
		Data       map[string]string `json:"data"`
		BinaryData map[string]string `json:"binaryData"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &o); err != nil {
		t.Fatal(err)
	}
	return objectState{o.Type, o.Metadata.Labels, o.Metadata.Annotations, o.Data, o.BinaryData}, true
}

func (o objectState) String() string {
	b, _ := json.MarshalIndent(o, "", "  ")
	return string(b)
}

// TestObjectsRoundTrip backs up openDesk's migrations-status ConfigMap
// and, on v1.19, the Synapse signing key Secret element-generated with the
// generated kubectl steps, run as their own ServiceAccounts against the
// API server. Each object is deleted and restored (create), then changed
// and restored again (replace), by the generated restore Jobs' scripts,
// also as their own ServiceAccounts; data, binary data, labels and
// annotations must come back exactly.
func TestObjectsRoundTrip(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	s := e.BuildSite(t, SiteSpec{
		Release: "v1.19.0",
		Apps:    []string{"migrations", "element"},
		Policy:  `stores: "migrations/s3/migrations": backup: false` + "\n",
	})
	objects := []struct{ store, kind, name, manifest string }{
		{"migrations/configmap/migrations-status", "configmap", "migrations-status", `apiVersion: v1
kind: ConfigMap
metadata:
  name: migrations-status
  labels: {app.kubernetes.io/managed-by: Helm}
  annotations: {meta.helm.sh/release-name: opendesk-migrations-pre, note: "Grüße ✓"}
data:
  release: v1.18.1
  migrations: |
    - id: 20240101-nubus-ldap
      done: true
    - id: 20250301-synapse-media
      done: "yes, with 'quotes' and \"double\" ones"
  unicode: "日本語 🙂"
binaryData:
  blob: AAEC/f7/
`},
		{"element/secret/element-generated", "secret", "element-generated", `apiVersion: v1
kind: Secret
metadata:
  name: element-generated
  labels: {app: synapse}
type: Opaque
stringData:
  SYNAPSE_SIGNING_KEY: "ed25519 a_xyz c2lnbmluZy1rZXktdGVzdA"
  multi: |
    line one
    line two
`},
	}
	for _, o := range objects {
		t.Run(o.kind, func(t *testing.T) {
			e.MustApply(t, s.Namespace, o.manifest)
			want, _ := e.ObjectState(t, s.Namespace, o.kind, o.name)
			backup := s.Backup(t, o.store)
			backup.MustRun(t, nil)
			file := "/" + o.kind + "-" + o.name + ".yaml"
			if got := e.MustRestic(t, s.RepoEnv(t), "dump", "--tag", "store="+o.store, "latest", file); !strings.Contains(got, "name: "+o.name) {
				t.Fatalf("the snapshot's %s is not the object:\n%s", file, got)
			}

			restore := s.Restore(t, o.store, "kubectl-export")
			e.MustKubectl(t, "", "delete", o.kind, o.name, "--namespace", s.Namespace)
			restore.MustRun(t, nil)
			if got, ok := e.ObjectState(t, s.Namespace, o.kind, o.name); !ok || got.String() != want.String() {
				t.Errorf("%s after restoring it deleted:\n%s\nwant:\n%s", o.name, got, want)
			}

			e.MustKubectl(t, "", "label", "--overwrite", o.kind, o.name, "--namespace", s.Namespace, "changed=yes")
			e.MustKubectl(t, "", "patch", o.kind, o.name, "--namespace", s.Namespace, "--type=json",
				`--patch=[{"op": "remove", "path": "/data"}]`)
			restore.MustRun(t, nil)
			if got, ok := e.ObjectState(t, s.Namespace, o.kind, o.name); !ok || got.String() != want.String() {
				t.Errorf("%s after restoring it changed:\n%s\nwant:\n%s", o.name, got, want)
			}
		})
	}
}
