package inventory

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/odbackup/odbackup/generator/preflight"
)

// TestLive lists from a stand-in API server: only GETs of the seven
// collections of the site's namespace, page by page, typed lists whose
// items carry no kind; Secret values are skipped. A refusal names the
// resource and what preflight needs.
func TestLive(t *testing.T) {
	var mu sync.Mutex
	var requests []string
	pages := map[string]string{
		"/api/v1/namespaces/opendesk/persistentvolumeclaims": `{"kind": "PersistentVolumeClaimList", "apiVersion": "v1", "metadata": {}, "items": [{"metadata": {"name": "data-0", "namespace": "opendesk"}}]}`,
		"/apis/apps/v1/namespaces/opendesk/statefulsets":     `{"kind": "StatefulSetList", "apiVersion": "apps/v1", "metadata": {}, "items": [{"metadata": {"name": "db", "namespace": "opendesk"}}]}`,
		"/apis/apps/v1/namespaces/opendesk/deployments":      `{"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {}, "items": []}`,
		"/apis/batch/v1/namespaces/opendesk/cronjobs":        `{"kind": "CronJobList", "apiVersion": "batch/v1", "metadata": {}, "items": [{"metadata": {"name": "cron", "namespace": "opendesk"}}]}`,
		"/api/v1/namespaces/opendesk/secrets":                `{"kind": "SecretList", "apiVersion": "v1", "metadata": {"continue": "page2"}, "items": [{"metadata": {"name": "s1", "namespace": "opendesk"}, "data": {"password": "c2VjcmV0"}}]}`,
		"/api/v1/namespaces/opendesk/secrets?page2":          `{"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": [{"metadata": {"name": "s2", "namespace": "opendesk"}, "data": {"a": "c2VjcmV0", "b": "c2VjcmV0"}}]}`,
		"/api/v1/namespaces/opendesk/configmaps":             `{"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {}, "items": [{"metadata": {"name": "kube-root-ca.crt", "namespace": "opendesk"}, "data": {"ca.crt": "x"}}]}`,
		"/api/v1/namespaces/opendesk/services":               `{"kind": "ServiceList", "apiVersion": "v1", "metadata": {}, "items": [{"metadata": {"name": "postgresql", "namespace": "opendesk"}}]}`,
	}
	forbidden := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		key := r.URL.Path
		if c := r.URL.Query().Get("continue"); c != "" {
			key += "?" + c
		}
		body, ok := pages[key]
		switch {
		case forbidden && strings.HasSuffix(r.URL.Path, "/secrets"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
"message": "secrets is forbidden: User \"ci\" cannot list resource \"secrets\" in API group \"\" in the namespace \"opendesk\""}`)
		case !ok || r.Method != http.MethodGet || r.URL.Query().Get("limit") == "":
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, body)
		}
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: other, context: {cluster: c, user: u, namespace: elsewhere}}, {name: c, context: {cluster: c, user: u}}]
current-context: other
`, srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := Live(context.Background(), kubeconfig, "c", "opendesk")
	if err != nil {
		t.Fatal(err)
	}
	want := preflight.Inventory{
		Namespace:    "opendesk",
		Claims:       []string{"data-0"},
		StatefulSets: []string{"db"},
		CronJobs:     []string{"cron"},
		Services:     []string{"postgresql"},
		Secrets:      map[string][]string{"s1": {"password"}, "s2": {"a", "b"}},
		ConfigMaps:   map[string][]string{"kube-root-ca.crt": {"ca.crt"}},
	}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("got %+v\nwant %+v", inv, want)
	}
	for _, r := range requests {
		if !strings.HasPrefix(r, "GET ") || !strings.Contains(r, "/namespaces/opendesk/") {
			t.Errorf("request %s: preflight only lists the site's namespace", r)
		}
	}
	if len(requests) != 8 {
		t.Errorf("%d requests, want 8 (seven lists, one second page):\n%s", len(requests), strings.Join(requests, "\n"))
	}

	forbidden = true
	_, err = Live(context.Background(), kubeconfig, "c", "opendesk")
	if err == nil || !strings.HasPrefix(err.Error(), `cannot list secrets in namespace opendesk: secrets is forbidden: User "ci" cannot list resource "secrets"`) ||
		!strings.HasSuffix(err.Error(), "(preflight needs list on persistentvolumeclaims, statefulsets, deployments, cronjobs, secrets, configmaps, services)") {
		t.Errorf("forbidden: %v", err)
	}
}
