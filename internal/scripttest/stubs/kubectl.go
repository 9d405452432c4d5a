package stubs

// The kubectl stub keeps the objects of one namespace in the state
// directory (kube/<kind>/<name>.json) and plays create, replace, apply,
// get (with --selector, --sort-by and --output name, json, yaml or
// jsonpath, through client-go's jsonpath as kubectl does), delete, wait
// (for readyToUse: ok makes the snapshot ready, fail leaves it as it is)
// logs, and exec. A Pod that is created runs at once, as a kubelet would
// run it (see kubeletRun). exec runs the remote command here when it is a stub (slapcat)
// or a shell script (sh -c) other than the two it plays itself, by the cue
// of kubectl: the Cassandra snapshot tar (ok prints a tar of two tables'
// snapshot directories; short, empty and fail cut it), and a restore's
// script fed on standard input (it reads the input).

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"
)

// kubeKinds maps what kubectl accepts as a resource to the stub's kind.
var kubeKinds = map[string]string{
	"volumesnapshot": "volumesnapshot", "volumesnapshots": "volumesnapshot", "vs": "volumesnapshot",
	"configmap": "configmap", "configmaps": "configmap", "cm": "configmap",
	"secret": "secret", "secrets": "secret",
	"persistentvolumeclaim": "persistentvolumeclaim", "persistentvolumeclaims": "persistentvolumeclaim", "pvc": "persistentvolumeclaim",
	"statefulset": "statefulset", "statefulsets": "statefulset", "sts": "statefulset",
	"pod": "pod", "pods": "pod",
}

// kubeGroups is the resource name kubectl prints for --output=name.
var kubeGroups = map[string]string{
	"volumesnapshot":        "volumesnapshot.snapshot.storage.k8s.io",
	"statefulset":           "statefulset.apps",
	"configmap":             "configmap",
	"secret":                "secret",
	"persistentvolumeclaim": "persistentvolumeclaim",
	"pod":                   "pod",
}

// kindOf resolves "volumesnapshot", "volumesnapshot/x",
// "volumesnapshot.snapshot.storage.k8s.io/x" to kind and name.
func KindOf(res string) (kind, name string, ok bool) {
	res, name, _ = strings.Cut(res, "/")
	res, _, _ = strings.Cut(res, ".")
	kind, ok = kubeKinds[strings.ToLower(res)]
	return kind, name, ok
}

type KubeArgs struct {
	Verb    string
	Flags   map[string]string
	Args    []string
	Command []string // after "--" (exec)
}

// kubeValueFlags take a value as the next argument when not given with =.
var kubeValueFlags = map[string]bool{
	"namespace": true, "n": true, "filename": true, "f": true, "output": true, "o": true,
	"selector": true, "l": true, "sort-by": true, "for": true, "timeout": true,
	"container": true, "c": true, "kubeconfig": true,
}

func ParseKubectl(argv []string) KubeArgs {
	k := KubeArgs{Flags: map[string]string{}}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			k.Command = argv[i+1:]
			return k
		case strings.HasPrefix(a, "-"):
			name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !hasVal && kubeValueFlags[name] && i+1 < len(argv) {
				i++
				val = argv[i]
			}
			switch name {
			case "n":
				name = "namespace"
			case "f":
				name = "filename"
			case "o":
				name = "output"
			case "l":
				name = "selector"
			case "c":
				name = "container"
			case "i":
				name = "stdin"
			}
			k.Flags[name] = val
		case k.Verb == "":
			k.Verb = a
		default:
			k.Args = append(k.Args, a)
		}
	}
	return k
}

type Kube struct{ Dir string }

func (k Kube) Path(kind, name string) string { return filepath.Join(k.Dir, kind, name+".json") }

func (k Kube) Get(kind, name string) (map[string]any, bool) {
	data, err := os.ReadFile(k.Path(kind, name))
	if err != nil {
		return nil, false
	}
	var obj map[string]any
	if json.Unmarshal(data, &obj) != nil {
		return nil, false
	}
	return obj, true
}

func (k Kube) Put(kind string, obj map[string]any) error {
	name, _ := nested(obj, "metadata", "name").(string)
	if name == "" {
		return fmt.Errorf("object without a name")
	}
	if err := os.MkdirAll(filepath.Join(k.Dir, kind), 0o755); err != nil {
		return err
	}
	data, _ := json.Marshal(obj)
	return os.WriteFile(k.Path(kind, name), data, 0o644)
}

func (k Kube) List(kind string) []map[string]any {
	files, _ := filepath.Glob(filepath.Join(k.Dir, kind, "*.json"))
	var out []map[string]any
	for _, f := range files {
		if obj, ok := k.Get(kind, strings.TrimSuffix(filepath.Base(f), ".json")); ok {
			out = append(out, obj)
		}
	}
	return out
}

func nested(obj map[string]any, keys ...string) any {
	var cur any = obj
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func setNested(obj map[string]any, val any, keys ...string) {
	cur := obj
	for _, k := range keys[:len(keys)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[k] = next
		}
		cur = next
	}
	cur[keys[len(keys)-1]] = val
}

func (s *stub) kubectl() int {
	k := ParseKubectl(s.call.Args)
	store := Kube{Dir: filepath.Join(s.dir, "kube")}
	if k.Verb == "exec" {
		return s.kubeExec(k)
	}
	var input []byte
	if f, ok := k.Flags["filename"]; ok && (k.Verb == "create" || k.Verb == "replace" || k.Verb == "apply") {
		if f == "-" {
			input = s.readStdin()
		} else {
			var err error
			if input, err = os.ReadFile(f); err != nil {
				s.record()
				fmt.Fprintf(os.Stderr, "error: %v\n", err)
				return 1
			}
		}
	}
	s.record()
	if s.action.kind == "fail" {
		fmt.Fprintf(os.Stderr, "error: kubectl %s failed (stub cue)\n", k.Verb)
		return s.action.code
	}
	switch k.Verb {
	case "create", "replace", "apply":
		return kubePut(store, k.Verb, input)
	case "get":
		return kubeGet(store, k)
	case "delete":
		return kubeDelete(store, k)
	case "wait":
		return kubeWait(store, k)
	case "logs":
		return kubeLogs(store, k)
	}
	fmt.Fprintf(os.Stderr, "stub kubectl: unsupported verb %q\n", k.Verb)
	return 127
}

func kubePut(store Kube, verb string, input []byte) int {
	for _, doc := range Docs(input) {
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
			return 1
		}
		kindName, _ := obj["kind"].(string)
		kind, _, ok := KindOf(kindName)
		if !ok {
			fmt.Fprintf(os.Stderr, "stub kubectl: unsupported kind %q\n", kindName)
			return 127
		}
		name, _ := nested(obj, "metadata", "name").(string)
		_, exists := store.Get(kind, name)
		switch {
		case verb == "create" && exists:
			fmt.Fprintf(os.Stderr, "Error from server (AlreadyExists): %s %q already exists\n", kind, name)
			return 1
		case verb == "replace" && !exists:
			fmt.Fprintf(os.Stderr, "Error from server (NotFound): %s %q not found\n", kind, name)
			return 1
		}
		if nested(obj, "metadata", "creationTimestamp") == nil {
			setNested(obj, time.Now().UTC().Format(time.RFC3339Nano), "metadata", "creationTimestamp")
		}
		if kind == "volumesnapshot" && nested(obj, "status", "readyToUse") == nil {
			setNested(obj, false, "status", "readyToUse")
		}
		if kind == "pod" {
			kubeletRun(store, obj)
		}
		if err := store.Put(kind, obj); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s/%s %sd\n", kubeGroups[kind], name, verb)
	}
	return 0
}

// selected reports whether obj's labels match a label selector, parsed as
// kubectl parses it ("k=v,k2!=v2,!k3").
func selected(obj map[string]any, selector string) bool {
	sel, err := labels.Parse(selector)
	if err != nil {
		return false
	}
	set := labels.Set{}
	if m, ok := nested(obj, "metadata", "labels").(map[string]any); ok {
		for k, v := range m {
			set[k], _ = v.(string)
		}
	}
	return sel.Matches(set)
}

func kubeGet(store Kube, k KubeArgs) int {
	if len(k.Args) == 0 {
		fmt.Fprintln(os.Stderr, "error: you must specify the type of resource to get")
		return 1
	}
	kind, name, ok := KindOf(k.Args[0])
	if !ok {
		fmt.Fprintf(os.Stderr, "stub kubectl: unsupported resource %q\n", k.Args[0])
		return 127
	}
	if name == "" && len(k.Args) > 1 {
		name = k.Args[1]
	}
	var items []map[string]any
	single := name != ""
	if single {
		obj, ok := store.Get(kind, name)
		if !ok {
			fmt.Fprintf(os.Stderr, "Error from server (NotFound): %s %q not found\n", kubeGroups[kind], name)
			return 1
		}
		items = []map[string]any{obj}
	} else {
		for _, obj := range store.List(kind) {
			if selected(obj, k.Flags["selector"]) {
				items = append(items, obj)
			}
		}
		if sortBy := k.Flags["sort-by"]; sortBy != "" {
			if sortBy != ".metadata.creationTimestamp" {
				fmt.Fprintf(os.Stderr, "stub kubectl: unsupported --sort-by %q\n", sortBy)
				return 127
			}
			slices.SortStableFunc(items, func(a, b map[string]any) int {
				ta, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(nested(a, "metadata", "creationTimestamp")))
				tb, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(nested(b, "metadata", "creationTimestamp")))
				return ta.Compare(tb)
			})
		}
	}
	var subject any = map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	if single {
		subject = items[0]
	}
	out := k.Flags["output"]
	switch {
	case out == "name":
		for _, obj := range items {
			fmt.Printf("%s/%s\n", kubeGroups[kind], nested(obj, "metadata", "name"))
		}
	case out == "json":
		data, _ := json.MarshalIndent(subject, "", "    ")
		fmt.Println(string(data))
	case out == "yaml":
		data, _ := yaml.Marshal(subject)
		os.Stdout.Write(data)
	case strings.HasPrefix(out, "jsonpath="):
		jp := jsonpath.New("out")
		jp.AllowMissingKeys(true)
		if err := jp.Parse(strings.TrimPrefix(out, "jsonpath=")); err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
			return 1
		}
		if err := jp.Execute(os.Stdout, subject); err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
			return 1
		}
	case out == "":
		fmt.Println("NAME   READYTOUSE   CREATIONTIME")
		for _, obj := range items {
			fmt.Printf("%s   %v   %v\n", nested(obj, "metadata", "name"), nested(obj, "status", "readyToUse"), nested(obj, "metadata", "creationTimestamp"))
		}
	default:
		fmt.Fprintf(os.Stderr, "stub kubectl: unsupported --output %q\n", out)
		return 127
	}
	return 0
}

func kubeDelete(store Kube, k KubeArgs) int {
	var targets [][2]string
	for i := 0; i < len(k.Args); i++ {
		kind, name, ok := KindOf(k.Args[i])
		if !ok {
			fmt.Fprintf(os.Stderr, "stub kubectl: unsupported resource %q\n", k.Args[i])
			return 127
		}
		if name == "" {
			for _, n := range k.Args[i+1:] {
				targets = append(targets, [2]string{kind, n})
			}
			break
		}
		targets = append(targets, [2]string{kind, name})
	}
	if len(targets) == 0 {
		fmt.Fprintln(os.Stderr, "error: resource(s) were provided, but no name was specified")
		return 1
	}
	status := 0
	for _, t := range targets {
		if err := os.Remove(store.Path(t[0], t[1])); err != nil {
			fmt.Fprintf(os.Stderr, "Error from server (NotFound): %s %q not found\n", kubeGroups[t[0]], t[1])
			status = 1
			continue
		}
		fmt.Printf("%s %q deleted\n", kubeGroups[t[0]], t[1])
	}
	return status
}

// kubeWait waits for --for=jsonpath='{.status.readyToUse}'=true: the stub
// makes the snapshot ready (ok); the cue fail leaves it not ready.
func kubeWait(store Kube, k KubeArgs) int {
	if k.Flags["for"] != "jsonpath={.status.readyToUse}=true" || len(k.Args) != 1 {
		fmt.Fprintf(os.Stderr, "stub kubectl: unsupported wait %q %q\n", k.Flags["for"], k.Args)
		return 127
	}
	kind, name, _ := KindOf(k.Args[0])
	obj, ok := store.Get(kind, name)
	if !ok {
		fmt.Fprintf(os.Stderr, "Error from server (NotFound): %s %q not found\n", kubeGroups[kind], name)
		return 1
	}
	setNested(obj, true, "status", "readyToUse")
	if err := store.Put(kind, obj); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s/%s condition met\n", kubeGroups[kind], name)
	return 0
}

// kubeExec plays kubectl exec POD -- COMMAND.
func (s *stub) kubeExec(k KubeArgs) int {
	if len(k.Command) == 0 {
		s.record()
		fmt.Fprintln(os.Stderr, "error: you must specify at least one command for the container")
		return 1
	}
	if slices.Contains(Names, k.Command[0]) {
		// A stubbed tool in the pod (slapcat): run it here; its own cue
		// decides.
		return s.execHere(k.Command[0], k.Command[1:]...)
	}
	if _, ok := k.Flags["stdin"]; ok {
		return s.consume("command terminated with exit code 1")
	}
	script := strings.Join(k.Command, " ")
	if strings.Contains(script, "tar -cf") {
		return s.produce("command terminated with exit code 2", cassandraTar(script))
	}
	if len(k.Command) == 3 && k.Command[0] == "sh" && k.Command[1] == "-c" {
		// Another remote script (an export wrapped in a check, say):
		// run it here, where its tools are stubs.
		return s.execHere("sh", "-c", k.Command[2])
	}
	return s.produce("command terminated with exit code 1", nil)
}

// execHere runs what kubectl exec would run in the pod on this host, where
// its tools are stubs, with kubectl's standard streams. The exec itself can
// still be cued to fail.
func (s *stub) execHere(name string, args ...string) int {
	s.record()
	if s.action.kind == "fail" {
		fmt.Fprintln(os.Stderr, "error: unable to upgrade connection: container not found")
		return s.action.code
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 1
	}
	return 0
}

// cassandraTar is a tar of the snapshot directories of two tables, as
// `tar -cf - */snapshots/odbackup` prints it in a keyspace's folder.
func cassandraTar(script string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, table := range []string{"acl-3f1c", "dictmap-9a2b"} {
		for _, f := range []string{"schema.cql", "nb-1-big-Data.db"} {
			body := []byte(fmt.Sprintf("%s of %s, night %d\n", f, table, stubNight))
			tw.WriteHeader(&tar.Header{Name: table + "/snapshots/odbackup/" + f, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)})
			tw.Write(body)
		}
	}
	tw.Close()
	return buf.Bytes()
}

// Docs splits a YAML stream into its documents.
func Docs(data []byte) [][]byte {
	var out [][]byte
	for _, d := range bytes.Split(data, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// CloneDir is the folder, in the state directory, that stands in for the
// claim a created Pod mounts (the off-site copy's clone).
const CloneDir = "clone"

// SampleDir is the folder, in the state directory, that stands in for the
// copy pod's ODBACKUP_SAMPLE_DIR (the restore drill's sample); a drill
// run in the sandbox is given the same.
const SampleDir = "sample"

// kubeletRun plays the kubelet for a Pod a script creates (the off-site
// copy pod): it runs the script of the Pod's first container (SHELL -c
// SCRIPT) here, with the caller's environment (the sandbox's, which holds
// restic's settings) under the container's literal variables, the state's
// clone/ folder standing in for the mounted claim (ODBACKUP_SOURCE), the
// sample/ folder for the pod's /tmp/odbackup-sample, and
// records the phase its exit gives and its output as the Pod's log.
func kubeletRun(store Kube, obj map[string]any) {
	var pod struct {
		Spec struct {
			Containers []struct {
				Command []string `json:"command"`
				Env     []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"env"`
			} `json:"containers"`
		} `json:"spec"`
	}
	data, _ := json.Marshal(obj)
	phase := "Failed"
	var log bytes.Buffer
	if err := json.Unmarshal(data, &pod); err != nil || len(pod.Spec.Containers) == 0 || len(pod.Spec.Containers[0].Command) != 3 {
		fmt.Fprintf(&log, "stub kubelet: a Pod whose first container is not [SHELL -c SCRIPT]\n")
	} else {
		c := pod.Spec.Containers[0]
		clone := filepath.Join(filepath.Dir(store.Dir), CloneDir)
		os.MkdirAll(clone, 0o755)
		cmd := exec.Command("sh", "-c", c.Command[2])
		cmd.Env = os.Environ()
		for _, e := range c.Env {
			switch {
			case e.Name == "ODBACKUP_SOURCE":
				cmd.Env = append(cmd.Env, e.Name+"="+clone)
			case e.Name == "ODBACKUP_SAMPLE_DIR":
				cmd.Env = append(cmd.Env, e.Name+"="+filepath.Join(filepath.Dir(store.Dir), SampleDir))
			case e.Value != "" && e.Name != "PATH" && e.Name != "HOME":
				cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
			}
		}
		cmd.Stdout, cmd.Stderr = &log, &log
		if cmd.Run() == nil {
			phase = "Succeeded"
		}
	}
	setNested(obj, phase, "status", "phase")
	os.MkdirAll(filepath.Join(store.Dir, "logs"), 0o755)
	name, _ := nested(obj, "metadata", "name").(string)
	os.WriteFile(filepath.Join(store.Dir, "logs", name+".log"), log.Bytes(), 0o644)
}

// kubeLogs prints the log kubeletRun kept of a Pod.
func kubeLogs(store Kube, k KubeArgs) int {
	if len(k.Args) != 1 {
		fmt.Fprintf(os.Stderr, "stub kubectl: unsupported logs %q\n", k.Args)
		return 127
	}
	_, name, _ := KindOf(k.Args[0])
	if name == "" {
		name = k.Args[0]
	}
	data, err := os.ReadFile(filepath.Join(store.Dir, "logs", name+".log"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error from server (NotFound): pods %q not found\n", name)
		return 1
	}
	os.Stdout.Write(data)
	return 0
}
