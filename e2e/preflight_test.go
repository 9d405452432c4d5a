package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// ceNamespace is what a namespace running the CE example
// (examples/ce-school: openDesk CE v1.17 with openDesk's default apps) holds
// of the kinds preflight reads: openDesk's Secrets, claims, workloads and
// Services that the example's jobs, restore Jobs and runbooks name, the
// Secrets the policy names for odbackup, claims of stores that are never
// backed up (OpenProject's /tmp claims among them, which the catalog names
// by a pattern), and objects odbackup has nothing to do with.
var ceNamespace = struct {
	secrets, configMaps                       map[string][]string
	claims                                    []string
	statefulSets, deployments, cronJobs, svcs []string
}{
	secrets: map[string][]string{
		"odbackup-restic":                      {"password"},
		"odbackup-s3":                          {"accessKeyID", "secretAccessKey"},
		"odbackup-rclone-crypt":                {"password", "salt"},
		"database-keycloak-password":           {"password"},
		"database-keycloak-extension-password": {"password"},
		"database-nextcloud-password":          {"password"},
		"database-openproject-password":        {"password"},
		"database-synapse-password":            {"password"},
		"database-xwiki-password":              {"password"},
		"mariadb-root-password":                {"rootPassword"},
		"objectstore-migrations-secret-key":    {"secretKey"},
		"objectstore-nextcloud-secret-key":     {"secretKey"},
		"objectstore-openproject-secret-key":   {"secretKey"},
		"objectstore-openxchange-secret-key":   {"secretKey"},
		"sh.helm.release.v1.xwiki.v1":          {"release"},
	},
	configMaps: map[string][]string{
		// kube-controller-manager's root CA publisher creates it in every
		// namespace; no controller-manager runs here.
		"kube-root-ca.crt":  {"ca.crt"},
		"migrations-status": {"migrations"},
	},
	claims: []string{
		"clamav-database-clamav-simple-0", "data-mariadb-0", "data-postgresql-0",
		"data-ums-provisioning-udm-listener-0", "dovecot", "group-membership-cache-ums-portal-consumer-0",
		"matrix-neodatefix-bot", "media-opendesk-synapse-0", "nats-data-ums-provisioning-nats-0",
		"openproject-web-default-tmp", "openproject-worker-default-tmp",
		"ox-connector-appcenter-ox-connector-0", "ox-connector-ox-contexts-ox-connector-0",
		"postfix", "postfix-ox", "redis-data-redis-master-0", "seaweedfs-all-in-one-data",
		"shared-data-ums-ldap-server-primary-0", "shared-data-ums-ldap-server-secondary-0",
		"shared-run-ums-ldap-server-primary-0", "shared-run-ums-ldap-server-secondary-0",
		"xwiki-data-xwiki-0",
	},
	statefulSets: []string{
		"clamav-simple", "mariadb", "opendesk-synapse", "ox-connector", "postgresql", "redis-master",
		"ums-keycloak", "ums-ldap-notifier", "ums-ldap-server-primary", "ums-ldap-server-secondary",
		"ums-portal-consumer", "ums-provisioning-nats", "ums-provisioning-udm-listener", "xwiki",
	},
	deployments: []string{
		"dovecot", "intercom-service", "matrix-neodatefix-bot", "open-xchange-core-mw-groupware",
		"opendesk-nextcloud-aio", "opendesk-nextcloud-notifypush", "openproject-web",
		"openproject-worker-default", "postfix", "postfix-ox", "seaweedfs-all-in-one",
		"ums-provisioning-udm-transformer",
	},
	cronJobs: []string{"opendesk-nextcloud-aio-cron"},
	svcs:     []string{"mariadb", "opendesk-synapse", "openproject-web", "postgresql", "redis-headless", "ums-keycloak", "xwiki"},
}

// secretValue is every Secret value of the test namespace, base64 of
// "not-a-real-value"; no report may show it.
const secretValue = "bm90LWEtcmVhbC12YWx1ZQ=="

// preflightManifests renders ceNamespace as manifests kubectl applies.
// Secret values are made up: preflight reads only the keys.
func preflightManifests() string {
	var docs []string
	add := func(format string, args ...any) { docs = append(docs, fmt.Sprintf(format, args...)) }
	data := func(keys []string, value string) string {
		var kv []string
		for _, k := range keys {
			kv = append(kv, fmt.Sprintf("%q: %q", k, value))
		}
		return "{" + strings.Join(kv, ", ") + "}"
	}
	for _, name := range slices.Sorted(maps.Keys(ceNamespace.secrets)) {
		add("apiVersion: v1\nkind: Secret\nmetadata: {name: %s}\ndata: %s\n", name, data(ceNamespace.secrets[name], secretValue))
	}
	for _, name := range slices.Sorted(maps.Keys(ceNamespace.configMaps)) {
		add("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: %s\n", name, data(ceNamespace.configMaps[name], "x"))
	}
	for _, name := range ceNamespace.claims {
		add("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: %s}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n", name)
	}
	pod := "{metadata: {labels: {app: %[1]s}}, spec: {containers: [{name: main, image: registry.example/%[1]s:1}]}}"
	for _, name := range ceNamespace.statefulSets {
		add("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: %[1]s}\nspec: {serviceName: %[1]s, selector: {matchLabels: {app: %[1]s}}, template: "+pod+"}\n", name)
	}
	for _, name := range ceNamespace.deployments {
		add("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %[1]s}\nspec: {selector: {matchLabels: {app: %[1]s}}, template: "+pod+"}\n", name)
	}
	for _, name := range ceNamespace.cronJobs {
		add("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: %[1]s}\nspec: {schedule: '*/5 * * * *', jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: main, image: registry.example/%[1]s:1}]}}}}}\n", name)
	}
	for _, name := range ceNamespace.svcs {
		add("apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec: {ports: [{port: 80}]}\n", name)
	}
	return strings.Join(docs, "---\n")
}

// preflightReport is the part of odbackup.preflight/v1 the test compares.
type preflightReport struct {
	Missing []struct {
		Kind          string   `json:"kind"`
		Name          string   `json:"name"`
		Keys          []string `json:"keys"`
		ObjectMissing bool     `json:"objectMissing"`
	} `json:"missing"`
	Unaccounted []struct {
		Claim string `json:"claim"`
	} `json:"unaccounted"`
}

func (r preflightReport) findings() []string {
	var out []string
	for _, m := range r.Missing {
		what := "missing " + m.Kind + " " + m.Name
		if !m.ObjectMissing {
			what += " key " + strings.Join(m.Keys, ",")
		}
		out = append(out, what)
	}
	for _, u := range r.Unaccounted {
		out = append(out, "unaccounted claim "+u.Claim)
	}
	return out
}

// TestPreflight runs odbackup preflight for the CE example against a
// namespace of the API server populated as the example expects: it passes,
// read live through a ServiceAccount that may only list, and through the
// List that kubectl get -o json prints. With one Secret key removed, one
// claim renamed and one claim added, both ways exit 1 and name exactly
// those: the key, the claim under its old name (missing) and under its new
// one (no store accounts for it), and the added claim. Both ways print the
// same report, and no Secret value appears in it.
func TestPreflight(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "odbackup")
	MustRun(t, Cmd{Args: []string{"go", "build", "-o", bin, "./cmd/odbackup"}, Dir: ".."})

	ns := e.CreateNamespace(t, "preflight-")
	src, err := os.ReadFile("../examples/ce-school/site.cue")
	if err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "site.cue")
	writeFile(t, policy, append(src, fmt.Sprintf("\nnamespace: %q\n", ns)...))
	e.MustApply(t, ns, preflightManifests())

	// A read-only credential: list on the seven resources, nothing else.
	e.MustApply(t, ns, `apiVersion: v1
kind: ServiceAccount
metadata: {name: odbackup-preflight}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: odbackup-preflight}
rules:
- {apiGroups: [""], resources: [persistentvolumeclaims, secrets, configmaps, services], verbs: [list]}
- {apiGroups: [apps], resources: [statefulsets, deployments], verbs: [list]}
- {apiGroups: [batch], resources: [cronjobs], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: odbackup-preflight}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: odbackup-preflight}
subjects: [{kind: ServiceAccount, name: odbackup-preflight, namespace: `+ns+`}]
`)
	token := strings.TrimSpace(e.MustKubectl(t, "", "create", "token", "odbackup-preflight", "--namespace", ns, "--duration=1h"))
	kubeconfig := filepath.Join(dir, "kubeconfig")
	writeFile(t, kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: preflight
  user: {token: %q}
contexts:
- name: e2e
  context: {cluster: e2e, user: preflight, namespace: default}
current-context: e2e
`, e.Kube.Server, token)))

	inventory := func(name string) string {
		out := e.MustKubectl(t, "", "get", "pvc,statefulsets,deployments,cronjobs,secrets,configmaps,services", "--namespace", ns, "--output=json")
		p := filepath.Join(dir, name)
		writeFile(t, p, []byte(out))
		return p
	}
	preflight := func(args ...string) Result {
		return Run(t, Cmd{Args: append([]string{bin, "preflight", policy}, args...)})
	}
	live, file := preflight("--kubeconfig", kubeconfig), preflight("--inventory", inventory("ready.json"))
	for _, r := range []Result{live, file} {
		if !r.OK() || !strings.Contains(r.Stdout, "\nOK: all ") {
			t.Fatalf("preflight of the populated namespace did not pass:\n%s", r)
		}
	}
	if live.Stdout != file.Stdout {
		t.Errorf("live and inventory reports differ:\n%s\n---\n%s", live.Stdout, file.Stdout)
	}

	// One key missing, one claim renamed (claims cannot be renamed: the old
	// one goes, a new one comes), one claim nobody decided about.
	e.MustApply(t, ns, "apiVersion: v1\nkind: Secret\nmetadata: {name: odbackup-s3}\ndata: {accessKeyID: "+secretValue+"}\n")
	e.MustKubectl(t, "", "delete", "pvc", "xwiki-data-xwiki-0", "--namespace", ns, "--wait=false")
	// The pvc-protection controller's part: let the deletion finish.
	e.MustKubectl(t, "", "patch", "pvc", "xwiki-data-xwiki-0", "--namespace", ns, "--type=json", `--patch=[{"op": "remove", "path": "/metadata/finalizers"}]`)
	e.MustApply(t, ns, `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: xwiki-data-wiki-0}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: scratch-data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`)
	want := []string{
		"missing PersistentVolumeClaim xwiki-data-xwiki-0",
		"missing Secret odbackup-s3 key secretAccessKey",
		"unaccounted claim scratch-data",
		"unaccounted claim xwiki-data-wiki-0",
	}
	broken := inventory("broken.json")
	var texts []string
	for _, args := range [][]string{{"--kubeconfig", kubeconfig}, {"--inventory", broken}} {
		r := preflight(append(args, "--format", "json")...)
		if r.ExitCode != 1 || r.Err != nil {
			t.Fatalf("preflight %s: want exit 1:\n%s", args[0], r)
		}
		var report preflightReport
		if err := json.Unmarshal([]byte(r.Stdout), &report); err != nil {
			t.Fatalf("preflight %s --format json: %v\n%s", args[0], err, r.Stdout)
		}
		if got := report.findings(); !slices.Equal(got, want) {
			t.Errorf("preflight %s found:\n  %s\nwant exactly:\n  %s", args[0], strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		text := preflight(args...)
		if text.ExitCode != 1 {
			t.Errorf("preflight %s (text): want exit 1:\n%s", args[0], text)
		}
		if out := text.Stdout + r.Stdout + text.Stderr; strings.Contains(out, secretValue) || strings.Contains(out, "not-a-real-value") {
			t.Errorf("preflight %s printed a Secret value", args[0])
		}
		texts = append(texts, text.Stdout)
	}
	if texts[0] != texts[1] {
		t.Errorf("live and inventory reports differ:\n%s\n---\n%s", texts[0], texts[1])
	}
}
