package scripttest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/odbackup/odbackup/internal/scripttest/stubs"
)

// stubBin and busyboxTools are the directories BuildStubs filled: the stub
// command under every stubbed name, and busybox's applets ("" without
// busybox).
var stubBin, busyboxTools string

// BuildStubs builds the stub command (stubs/cmd/stub) into a temporary
// directory with the go tool; a test binary that uses a Sandbox calls it in
// TestMain and calls cleanup when its tests are done. A separate small
// binary starts in a few milliseconds, where the test binary (with CUE and
// the Kubernetes types in it) takes ten times as long for every stub call.
func BuildStubs() (cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "odbackup-stubs-")
	if err != nil {
		return nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	// The go tool of the toolchain that built this test binary; PATH's
	// otherwise.
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			cleanup()
			return nil, fmt.Errorf("building the stubs: no go tool: %v", err)
		}
	}
	bin := filepath.Join(dir, "stub")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/odbackup/odbackup/internal/scripttest/stubs/cmd/stub").CombinedOutput()
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("building the stubs: %v\n%s", err, out)
	}
	stubBin = filepath.Join(dir, "bin")
	if err := os.Mkdir(stubBin, 0o755); err != nil {
		cleanup()
		return nil, err
	}
	for _, n := range stubs.Names {
		if err := os.Symlink(bin, filepath.Join(stubBin, n)); err != nil {
			cleanup()
			return nil, err
		}
	}
	if busybox, err := exec.LookPath("busybox"); err == nil {
		tools := filepath.Join(dir, "tools")
		if err := os.Mkdir(tools, 0o755); err != nil {
			cleanup()
			return nil, err
		}
		if out, err := exec.Command(busybox, "--install", "-s", tools).CombinedOutput(); err != nil {
			cleanup()
			return nil, fmt.Errorf("busybox --install: %v\n%s", err, out)
		}
		busyboxTools = tools
	}
	return cleanup, nil
}

// Sandbox is where scripts run: a bin directory of stubs (and busybox's
// applets), shared by the test binary, and the stubs' state: the calls they
// recorded, their cues, the restic repository, the namespace's objects.
// HOME and TMPDIR are directories of the sandbox, kept across its runs.
type Sandbox struct {
	t     testing.TB
	Dir   string
	Bin   string // the stubs
	Tools string // busybox's applets
	State string // ODBACKUP_STUB_DIR
}

// BusyboxEnv, set to "required", makes a missing busybox fail the tests
// instead of skipping them (make test sets it).
const BusyboxEnv = "ODBACKUP_BUSYBOX"

// NewSandbox makes a sandbox in a temporary directory of t. The test binary
// must call BuildStubs in its TestMain. Without busybox on PATH the test is
// skipped (or fails, with ODBACKUP_BUSYBOX=required).
func NewSandbox(t testing.TB) *Sandbox {
	t.Helper()
	if stubBin == "" {
		t.Fatal("no stubs: the test binary must call BuildStubs in TestMain")
	}
	if busyboxTools == "" {
		if os.Getenv(BusyboxEnv) == "required" {
			t.Fatal("busybox is required but not installed (e2e/scripts/ensure-packages.sh busybox)")
		}
		t.Skip("busybox not installed; make test installs it")
	}
	dir := t.TempDir()
	s := &Sandbox{t: t, Dir: dir, Bin: stubBin, Tools: busyboxTools, State: filepath.Join(dir, "state")}
	for _, d := range []string{s.State, filepath.Join(dir, "home"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// Cue adds rules for the stubs, one a line: "CMD [WORD...]: ACTION" (see
// stub.go). The first rule that matches a call decides.
func (s *Sandbox) Cue(rules ...string) {
	s.t.Helper()
	f, err := os.OpenFile(filepath.Join(s.State, "cues"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	for _, r := range rules {
		fmt.Fprintln(f, r)
	}
}

// ClearCues removes every cue.
func (s *Sandbox) ClearCues() {
	os.Remove(filepath.Join(s.State, "cues"))
}

// SetNight sets the night the producers' data carries (1 by default).
func (s *Sandbox) SetNight(n int) {
	s.writeState("generation", strconv.Itoa(n))
}

// SetDatabases sets the MariaDB server's databases.
func (s *Sandbox) SetDatabases(names ...string) {
	s.writeState("mariadb-databases", strings.Join(names, "\n")+"\n")
}

func (s *Sandbox) writeState(name, data string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.State, name), []byte(data), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Sandbox) repo() stubs.Repo { return stubs.Repo{Dir: filepath.Join(s.State, "restic")} }

// InitRepo creates the restic repository with password.
func (s *Sandbox) InitRepo(password string) {
	s.t.Helper()
	if err := s.repo().Create(password); err != nil {
		s.t.Fatal(err)
	}
}

// Seed stores a snapshot in the repository (which must exist) and returns
// it with its ID.
func (s *Sandbox) Seed(snap stubs.Snapshot, contents map[string][]byte) stubs.Snapshot {
	s.t.Helper()
	saved, err := s.repo().Save(snap, contents)
	if err != nil {
		s.t.Fatal(err)
	}
	return saved
}

// Snapshots lists the repository's snapshots, oldest first.
func (s *Sandbox) Snapshots() []stubs.Snapshot {
	s.t.Helper()
	if _, ok := s.repo().Password(); !ok {
		return nil
	}
	snaps, err := s.repo().Snapshots()
	if err != nil {
		s.t.Fatal(err)
	}
	return snaps
}

// Content is the content of path in snapshot snap.
func (s *Sandbox) Content(snap stubs.Snapshot, path string) string {
	s.t.Helper()
	data, ok := s.repo().Content(snap, path)
	if !ok {
		s.t.Fatalf("snapshot %s has no %s (it has %v)", snap.ShortID, path, snap.Paths)
	}
	return string(data)
}

// PutObject stores a Kubernetes object (YAML) in the stub namespace.
func (s *Sandbox) PutObject(doc string) {
	s.t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		s.t.Fatal(err)
	}
	kind, _, ok := stubs.KindOf(fmt.Sprint(obj["kind"]))
	if !ok {
		s.t.Fatalf("PutObject: unsupported kind %v", obj["kind"])
	}
	if err := (stubs.Kube{Dir: filepath.Join(s.State, "kube")}).Put(kind, obj); err != nil {
		s.t.Fatal(err)
	}
}

// Objects lists the stub namespace's objects of kind ("volumesnapshot").
func (s *Sandbox) Objects(kind string) []map[string]any {
	return stubs.Kube{Dir: filepath.Join(s.State, "kube")}.List(kind)
}

// Calls are the stub calls recorded so far, in order.
func (s *Sandbox) Calls() []stubs.Call {
	s.t.Helper()
	f, err := os.Open(filepath.Join(s.State, "calls.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	var out []stubs.Call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var c stubs.Call
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			s.t.Fatalf("calls.jsonl: %v", err)
		}
		out = append(out, c)
	}
	return out
}

// Stdin is what a recorded call read from its standard input.
func (s *Sandbox) Stdin(c stubs.Call) string {
	s.t.Helper()
	if c.Stdin == "" {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(s.State, c.Stdin))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(data)
}

// Result is what a script did.
type Result struct {
	Step           *Step
	Stdout, Stderr string
	ExitCode       int   // -1 when killed (Err says why)
	Err            error // not nil when the script did not end by itself
	// Calls are the stub calls of this run.
	Calls []stubs.Call
}

// OK reports whether the script exited 0.
func (r Result) OK() bool { return r.Err == nil && r.ExitCode == 0 }

func (r Result) String() string {
	return fmt.Sprintf("%s, container %s: exit %d (%v)\n--- stdout ---\n%s--- stderr ---\n%s--- calls ---\n%s",
		r.Step.File, r.Step.Name, r.ExitCode, r.Err, r.Stdout, r.Stderr, callLines(r.Calls))
}

func callLines(calls []stubs.Call) string {
	var b strings.Builder
	for _, c := range calls {
		fmt.Fprintf(&b, "%s  [%s]\n", c.Line(), c.Action)
	}
	return b.String()
}

// Opts are the options of a run.
type Opts struct {
	// Secrets are the values of the Secrets the step names ("name/key");
	// a Secret not given has the value "value-of-name/key".
	Secrets map[string]string
	// Env is added to the container's environment last.
	Env map[string]string
	// Timeout kills the script (default 2 minutes: a bound for a machine
	// under load, not a measure).
	Timeout time.Duration
}

// SecretValue is the value a Secret reference gets by default.
func SecretValue(name, key string) string { return "value-of-" + name + "/" + key }

// Run runs the step's script in the sandbox: with busybox sh where the
// image's shell is busybox (PATH: the stubs, then busybox's applets, as
// /tools comes first in the Pods), else with /bin/sh (dash on Debian) and
// the host's tools after the stubs. The environment is the container's:
// literal values as generated, Secret references replaced (see Opts),
// HOME and TMPDIR fresh directories, TZ=UTC.
func (s *Sandbox) Run(step *Step, o Opts) Result {
	s.t.Helper()
	script, err := step.Script()
	if err != nil {
		s.t.Fatal(err)
	}
	env := map[string]string{}
	for _, v := range step.Container.Env {
		switch {
		case v.ValueFrom == nil:
			env[v.Name] = v.Value
		case v.ValueFrom.SecretKeyRef != nil:
			ref := v.ValueFrom.SecretKeyRef.Name + "/" + v.ValueFrom.SecretKeyRef.Key
			val, ok := o.Secrets[ref]
			if !ok {
				val = SecretValue(v.ValueFrom.SecretKeyRef.Name, v.ValueFrom.SecretKeyRef.Key)
			}
			env[v.Name] = val
		default:
			s.t.Fatalf("%s, container %s: env %s has an unexpected source", step.File, step.Name, v.Name)
		}
	}
	shell := []string{"/bin/sh"}
	env["PATH"] = s.Bin + ":/usr/local/bin:/usr/bin:/bin"
	if step.Busybox() {
		shell = []string{filepath.Join(s.Tools, "sh")}
		env["PATH"] = s.Bin + ":" + s.Tools
	}
	env["HOME"] = filepath.Join(s.Dir, "home")
	env["TMPDIR"] = filepath.Join(s.Dir, "tmp")
	env["TZ"] = "UTC"
	// A drill's scratch folder (the Pod's /tmp/odbackup-drill) is the
	// sandbox's own: parallel tests never remove each other's.
	env["ODBACKUP_SCRATCH"] = filepath.Join(s.Dir, "tmp")
	// The off-site copy's sample (the Pods' /tmp/odbackup-sample) is where
	// the stub kubelet has the copy pod write it, for the drill to find it
	// under the same path in the snapshot.
	if _, ok := env["ODBACKUP_SAMPLE_DIR"]; ok {
		env["ODBACKUP_SAMPLE_DIR"] = filepath.Join(s.State, stubs.SampleDir)
	}
	env[stubs.StateEnv] = s.State
	for k, v := range o.Env {
		env[k] = v
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	// Scripts that write fixed paths under /tmp (the Pods' emptyDir) take
	// a host-wide lock, so that test processes running at once never share
	// those files.
	if strings.Contains(script, "/tmp/") {
		unlock := lockTmp(s.t)
		defer unlock()
	}
	before := len(s.Calls())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, shell[0], append(shell[1:], "-c", script)...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := Result{Step: step, Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: -1}
	var exit *exec.ExitError
	switch {
	case err == nil:
		r.ExitCode = 0
	case ctx.Err() != nil:
		r.Err = fmt.Errorf("killed after %s", timeout)
	case errors.As(err, &exit) && exit.Exited():
		r.ExitCode = exit.ExitCode()
	default:
		r.Err = err
	}
	r.Calls = s.Calls()[before:]
	return r
}

// MustRun is Run that fails the test unless the script exits 0.
func (s *Sandbox) MustRun(step *Step, o Opts) Result {
	s.t.Helper()
	r := s.Run(step, o)
	if !r.OK() {
		s.t.Fatalf("the script failed:\n%s", r)
	}
	return r
}

// RunJob runs the steps of one Pod as Kubernetes does: the init containers
// in order, stopping at the first that fails, then the containers (here
// one after the other). Copy steps are skipped: the tools are in place.
// It returns every result and whether the Pod succeeded.
func (s *Sandbox) RunJob(steps []*Step, o Opts) ([]Result, bool) {
	s.t.Helper()
	var out []Result
	for _, init := range []bool{true, false} {
		for _, st := range steps {
			if st.Init != init || st.Copy() {
				continue
			}
			r := s.Run(st, o)
			out = append(out, r)
			if !r.OK() && init {
				return out, false
			}
		}
	}
	for _, r := range out {
		if !r.OK() {
			return out, false
		}
	}
	return out, true
}

func lockTmp(t testing.TB) func() {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "odbackup-scripttest-tmp.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { f.Close() }
}
