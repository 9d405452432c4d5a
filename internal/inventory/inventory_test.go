package inventory

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator/preflight"
)

const kubectlList = `{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "xwiki-data-xwiki-0", "namespace": "opendesk"},
            "spec": {"accessModes": ["ReadWriteOnce"]}
        },
        {
            "apiVersion": "v1",
            "data": {"password": "c2VjcmV0LXZhbHVlLTE=", "user": "dXNlcg=="},
            "kind": "Secret",
            "metadata": {
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"stringData\":{\"password\":\"secret-value-1\"}}"},
                "name": "odbackup-restic",
                "namespace": "opendesk"
            },
            "type": "Opaque"
        },
        {
            "apiVersion": "v1",
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"},
            "binaryData": {"blob": "AAEC"},
            "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": "opendesk"}
        },
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "xwiki", "namespace": "opendesk"}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nextcloud", "namespace": "opendesk"}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "odbackup-xwiki", "namespace": "opendesk"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "postgresql", "namespace": "opendesk"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "xwiki-0", "namespace": "opendesk"}}
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}
`

func TestReadKubectlList(t *testing.T) {
	inv, err := Read(strings.NewReader(kubectlList), "inv.json", "opendesk")
	if err != nil {
		t.Fatal(err)
	}
	want := preflight.Inventory{
		Namespace:    "opendesk",
		Claims:       []string{"xwiki-data-xwiki-0"},
		StatefulSets: []string{"xwiki"},
		Deployments:  []string{"nextcloud"},
		CronJobs:     []string{"odbackup-xwiki"},
		Services:     []string{"postgresql"},
		Secrets:      map[string][]string{"odbackup-restic": {"password", "user"}},
		ConfigMaps:   map[string][]string{"kube-root-ca.crt": {"blob", "ca.crt"}},
	}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("got %+v\nwant %+v", inv, want)
	}
}

// TestReadBadInputs: every bad inventory is one line naming the file and
// what is wrong, and no value of a Secret is ever in a message.
func TestReadBadInputs(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
	}{
		{"empty", ``, `inv.json: not JSON: it ends early (truncated?)`},
		{"yaml", "apiVersion: v1\nkind: List\n", `inv.json:1:1: not JSON: invalid character 'a' looking for beginning of value`},
		{"syntax", "{\n  \"kind\": \"List\",\n  \"items\": [}\n", `inv.json:3:13: not JSON: invalid character '}' looking for beginning of value`},
		{"truncated", kubectlList[:400], `inv.json: not JSON: it ends early (truncated?)`},
		{"array", `[{"kind": "Secret"}]`, "inv.json: not a List: the document is an array, not an object with kind List"},
		{"single object", `{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "opendesk"}, "data": {"k": "dmFsdWU="}}`,
			"inv.json: not a List: the document is a Secret, not a List with items"},
		{"no kind", `{"items": []}`, "inv.json: not a List: the document is an object without kind, not a List with items"},
		{"items not array", `{"kind": "List", "items": {}}`, "inv.json: not a List: items is an object, not an array"},
		{"two documents", `{"kind": "List", "items": []} {"kind": "List", "items": []}`, "inv.json: not a List: more than one JSON document"},
		{"other namespace", `{"kind": "List", "items": [{"kind": "Secret", "metadata": {"name": "s", "namespace": "other"}, "data": {"k": "dmFsdWU="}}]}`,
			"inv.json: item 1 (Secret s) is in namespace other, but the site's namespace is opendesk: list only that namespace (`kubectl get pvc,statefulsets,deployments,cronjobs,secrets,configmaps,services --namespace=opendesk --output=json`)"},
		{"no namespace", `{"kind": "List", "items": [{"kind": "Service", "metadata": {"name": "s"}}]}`,
			"inv.json: item 1 (Service s) is in no namespace, but the site's namespace is opendesk"},
		{"item without kind", `{"kind": "List", "items": [{"metadata": {"name": "s", "namespace": "opendesk"}}]}`, "inv.json: item 1 has no kind"},
		{"item without name", `{"kind": "List", "items": [{"kind": "Secret", "metadata": {"namespace": "opendesk"}}]}`, "inv.json: item 1 (Secret) has no metadata.name"},
		{"wrong type", `{"kind": "List", "items": [{"kind": "Secret", "metadata": {"name": 7, "namespace": "opendesk"}}]}`,
			"inv.json: item 1: metadata.name is a JSON number, not a string"},
		{"data not object", `{"kind": "List", "items": [{"kind": "Secret", "metadata": {"name": "s", "namespace": "opendesk"}, "data": "dmFsdWU="}]}`,
			"inv.json: item 1: data is a JSON string, not an object"},
		{"control character in a value", "{\"kind\": \"List\", \"items\": [{\"kind\": \"Secret\", \"data\": {\"k\": \"ab\tc\"}}]}",
			"inv.json:1:64: not JSON: a string holds a character JSON does not allow (a control character or a bad escape)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inv.json")
			if err := os.WriteFile(path, []byte(tc.input), 0o600); err != nil {
				t.Fatal(err)
			}
			wd, _ := os.Getwd()
			if err := os.Chdir(filepath.Dir(path)); err != nil {
				t.Fatal(err)
			}
			defer os.Chdir(wd)
			_, err := ReadFile("inv.json", "opendesk", nil)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) {
				t.Errorf("error:\n%s\nwant it to start with:\n%s", msg, tc.want)
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "dmFsdWU") || strings.Contains(msg, "value") && !strings.Contains(msg, "beginning of value") {
				t.Errorf("error is not one line without values: %q", msg)
			}
		})
	}
}

// TestReadTooBig: a file larger than MaxBytes is refused before reading
// (a sparse 2 GiB file), and a stream that goes on past it stops there.
func TestReadTooBig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ReadFile(path, "opendesk", nil)
	if err == nil || !strings.Contains(err.Error(), "2.0 GiB is more than an inventory can be (at most 512 MiB)") {
		t.Errorf("2 GiB file: %v", err)
	}
	// Standard input has no size: the read stops after the limit.
	defer func(old int64) { maxBytes = old }(maxBytes)
	maxBytes = 1 << 20
	endless := io.MultiReader(strings.NewReader(`{"kind": "List", "items": [`), repeat(`{"kind": "Pod", "metadata": {"name": "p", "namespace": "opendesk"}},`))
	_, err = ReadFile("-", "opendesk", endless)
	if err == nil || err.Error() != "stdin: more than an inventory can be (at most 1 MiB)" {
		t.Errorf("endless stdin: %v", err)
	}
}

// repeater is an endless reader of s.
type repeater struct {
	s   string
	off int
}

func repeat(s string) *repeater { return &repeater{s: s} }

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}
