package inventory

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/odbackup/odbackup/generator/preflight"
)

// resource is one kind preflight lists, as the API server serves it.
type resource struct {
	path string // "/api/v1" or "/apis/<group>/<version>"
	name string // "secrets"
	kind string // "Secret"
}

// Resources are what preflight lists, in the order of Command.
var Resources = []resource{
	{"/api/v1", "persistentvolumeclaims", "PersistentVolumeClaim"},
	{"/apis/apps/v1", "statefulsets", "StatefulSet"},
	{"/apis/apps/v1", "deployments", "Deployment"},
	{"/apis/batch/v1", "cronjobs", "CronJob"},
	{"/api/v1", "secrets", "Secret"},
	{"/api/v1", "configmaps", "ConfigMap"},
	{"/api/v1", "services", "Service"},
}

// pageSize bounds one list response.
const pageSize = 250

// Live lists the namespace's objects through the cluster of a kubeconfig
// (its current context, or contextName). It only lists: the verb is list
// on the seven resources of Resources, nothing else. Each page is decoded
// as it streams in, like a file, so Secret values are skipped, never kept.
func Live(ctx context.Context, kubeconfig, contextName, namespace string) (preflight.Inventory, error) {
	loading := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: contextName}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, overrides).ClientConfig()
	if err != nil {
		return preflight.Inventory{}, fmt.Errorf("kubeconfig %s: %v", kubeconfig, err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "odbackup-preflight"
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Minute
	}
	// Responses are streamed to the decoder, never decoded by client-go;
	// the codec only reads the API server's Status on an error.
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	client, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		return preflight.Inventory{}, fmt.Errorf("kubeconfig %s: %v", kubeconfig, err)
	}
	b := newBuilder(namespace)
	for _, res := range Resources {
		if err := listAll(ctx, client, res, b); err != nil {
			return preflight.Inventory{}, fmt.Errorf("cannot list %s in namespace %s: %v (preflight needs list on %s)",
				res.name, namespace, err, resourceNames())
		}
	}
	return b.inventory(), nil
}

// listAll lists one resource page by page.
func listAll(ctx context.Context, client *rest.RESTClient, res resource, b *builder) error {
	cont := ""
	for {
		req := client.Get().AbsPath(res.path, "namespaces", b.inv.Namespace, res.name).
			Param("limit", fmt.Sprint(pageSize))
		if cont != "" {
			req = req.Param("continue", cont)
		}
		body, err := req.Stream(ctx)
		if err != nil {
			return err
		}
		d := &listDecoder{name: res.name, listKind: res.kind + "List", itemKind: res.kind, b: b}
		cont, err = d.decode(body)
		body.Close()
		if err != nil {
			return err
		}
		if cont == "" {
			return nil
		}
	}
}

func resourceNames() string {
	names := make([]string, len(Resources))
	for i, r := range Resources {
		names[i] = r.name
	}
	return strings.Join(names, ", ")
}
