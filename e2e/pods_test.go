package e2e

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The generated steps that exec into a pod (slapcat in the LDAP primary,
// nodetool and tar in a Cassandra node) run here through a stand-in kubectl
// (testdata/shim/kubectl): it asks the API server, with the step's own
// ServiceAccount, to exec into a Pod object the test created (which never
// gets a node), so RBAC and the pod and container names are checked for
// real, and then runs the command on this host, as the pod would, with the
// stand-in tools of testdata/pod first on PATH.

// testdataDir is the absolute path of e2e/testdata.
func testdataDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// execTarget is the pod and container of the first `kubectl exec` in a
// generated script.
var execTarget = regexp.MustCompile(`kubectl --namespace="\$ODBACKUP_NAMESPACE" exec (?:--stdin )?([a-z0-9.-]+) --container=([a-z0-9-]+) --`)

// ExecPod creates, in the site's namespace, the Pod object the container's
// script execs into (named in the script; with that container), and
// returns the environment that runs the script through the stand-in
// kubectl. podEnv are k=v words the command sees in the "pod".
func (c *Container) ExecPod(t testing.TB, podEnv ...string) map[string]string {
	t.Helper()
	m := execTarget.FindStringSubmatch(c.Script())
	if m == nil {
		t.Fatalf("%s, container %s: the script execs into no pod", c.Owner, c.Name)
	}
	c.site.e.EnsurePod(t, c.site.Namespace, m[1], m[2])
	td := testdataDir(t)
	return map[string]string{
		"PATH":                  filepath.Join(td, "shim") + ":" + c.site.e.toolPath(t, c.busybox()),
		"ODBACKUP_E2E_POD_PATH": filepath.Join(td, "pod"),
		"ODBACKUP_E2E_POD_ENV":  strings.Join(podEnv, " "),
	}
}

// EnsurePod creates a Pod object name with one container (never scheduled:
// no scheduler or kubelet runs), unless it exists.
func (e *Env) EnsurePod(t testing.TB, ns, name, container string) {
	t.Helper()
	if e.KubectlCmd(t, "", "get", "pod", name, "--namespace", ns).OK() {
		return
	}
	e.MustApply(t, ns, `apiVersion: v1
kind: Pod
metadata: {name: `+name+`}
spec:
  containers:
  - {name: `+container+`, image: registry.invalid/e2e:never}
`)
}

// Servers runs e2e/scripts/servers.sh (e.g. "stop", "redis") with the ports
// of the running servers, so the env.sh it rewrites stays right.
func (e *Env) Servers(t testing.TB, args ...string) {
	t.Helper()
	port := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return u.Port()
	}
	MustRun(t, Cmd{Args: append([]string{"scripts/servers.sh"}, args...), Env: map[string]string{
		"ODBACKUP_E2E_PG_PORT":        e.PG.Port,
		"ODBACKUP_E2E_MARIADB_PORT":   e.MariaDB.Port,
		"ODBACKUP_E2E_REDIS_PORT":     e.Redis.Port,
		"ODBACKUP_E2E_LDAP_PORT":      port(e.LDAP.URL),
		"ODBACKUP_E2E_S3_PORT":        port(e.S3.Endpoint),
		"ODBACKUP_E2E_APISERVER_PORT": port(e.Kube.Server),
	}})
}

// writeFile writes data to path, creating its directory.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// statefulSet is a StatefulSet object with replicas (nothing runs it).
func statefulSet(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: StatefulSet
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  serviceName: %[1]s
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - {name: main, image: registry.invalid/e2e:never}
`, name, replicas)
}

// freePort is a TCP port on 127.0.0.1 nothing listens on.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

// StartServer starts a server of this test only (args), in the background
// with its output in a log file, polls ready until it succeeds, and stops
// the server when the test ends.
func StartServer(t *testing.T, args []string, ready Cmd) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "server.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(30 * time.Second); !Run(t, ready).OK(); {
		select {
		case <-exited:
			t.Fatalf("%s exited:\n%s", args[0], tail(readFile(t, log)))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not ready after 30 s:\n%s", args[0], tail(readFile(t, log)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
