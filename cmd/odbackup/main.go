// Command odbackup compiles the backup policy of an openDesk site, written
// in CUE, into Kubernetes manifests, restore runbooks and a coverage report.
//
// This package is the CLI only: it parses flags (one file per subcommand,
// each with a parse function that tests call directly), reads files, and
// prints problems with their positions. The work happens in schema/ and
// generator/.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/odbackup/odbackup/schema"
)

// Exit codes. A policy problem or a stale tree is 1, so CI can tell it from
// a usage error (2).
const (
	exitOK      = 0
	exitProblem = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], newEnv(os.Stdout, os.Stderr)))
}

// env is what a command may touch of the outside world.
type env struct {
	stdout, stderr io.Writer
	// cwd makes positions in messages relative ("./site.cue:3:10").
	cwd string
	// now is the clock, read only where a command's meaning needs the date
	// (waiver expiry); tests set it.
	now func() time.Time
	// schema is loaded once per process, on first use.
	schema func() (*schema.Schema, error)
	// chunk is how many policies of a batch are evaluated against one
	// schema (see defaultChunk); tests make it small.
	chunk int
}

func newEnv(stdout, stderr io.Writer) *env {
	cwd, _ := os.Getwd()
	return &env{
		stdout: stdout,
		stderr: stderr,
		cwd:    cwd,
		now:    time.Now,
		schema: sync.OnceValues(schema.Load),
		chunk:  defaultChunk,
	}
}

// usageError is a mistake in the command line: exit 2 with a hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errProblemsReported means the command printed problems already and only
// the exit code is left to set.
var errProblemsReported = errors.New("problems reported")

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

var commands = []command{
	{"vet", "check site policies against the schema and the catalog", runVet},
	{"build", "write manifests, runbooks and coverage for site policies", runBuild},
	{"coverage", "report what a policy backs up, or what a change does to that", runCoverage},
	{"docs", "export the runbooks and coverage reports as a static site", runDocs},
	{"upgrade", "say what an openDesk release bump changes in a site's backups", runUpgrade},
	{"preflight", "check a site's namespace against what its plan needs", runPreflight},
	{"catalog", "print the catalog of openDesk's data stores", runCatalog},
	{"init", "print a starter site policy", runInit},
	{"version", "print odbackup's version", runVersion},
}

const mainUsage = `odbackup compiles the backup policy of an openDesk site into Kubernetes
manifests, restore runbooks and a backup-coverage report.

Usage:
  odbackup <command> [arguments]

Commands:
%s
Run "odbackup <command> --help" for a command's flags;
"odbackup --version" prints the version.
`

func usageText() string {
	var list string
	for _, c := range commands {
		list += fmt.Sprintf("  %-9s %s\n", c.name, c.summary)
	}
	return fmt.Sprintf(mainUsage, list)
}

func run(args []string, e *env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usageText())
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usageText())
		return exitOK
	case "--version":
		return e.exit(runVersion(e, args[1:]))
	}
	for _, c := range commands {
		if c.name == name {
			return e.exit(c.run(e, args[1:]))
		}
	}
	fmt.Fprintf(e.stderr, "odbackup: unknown command %q\n\n%s", name, usageText())
	return exitUsage
}

// exit prints err the way its kind asks for and returns the exit code.
func (e *env) exit(err error) int {
	var usage *usageError
	var help *helpError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &help):
		fmt.Fprint(e.stdout, help.text)
		return exitOK
	case errors.Is(err, errProblemsReported):
		return exitProblem
	case errors.As(err, &usage):
		fmt.Fprintf(e.stderr, "odbackup: %s\n", usage.msg)
		return exitUsage
	}
	if ps, ok := schema.AsProblems(err); ok {
		ps.Print(e.stderr, e.cwd)
		return exitProblem
	}
	fmt.Fprintf(e.stderr, "odbackup: %v\n", err)
	return exitProblem
}

// evaluate reads and checks one policy file. Problems are returned, not
// printed, so a command can check every file before it writes anything.
func (e *env) evaluate(path string) (*schema.Site, error) {
	return e.evaluateWith(path, evaluatorOn(""))
}

// evaluateWith reads a policy file and evaluates it with evaluate against
// the process's schema.
func (e *env) evaluateWith(path string, evaluate evaluator) (*schema.Site, error) {
	s, err := e.schema()
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return e.evaluateSource(s, path, src, evaluate)
}

// evaluateSource evaluates the source of the policy file path against s,
// giving the schema the file's absolute name (positions in messages are
// made relative to the working directory again when printed).
func (e *env) evaluateSource(s *schema.Schema, path string, src []byte, evaluate evaluator) (*schema.Site, error) {
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(e.cwd, path)
	}
	site, err := evaluate(s, abs, src)
	if err != nil {
		return nil, err
	}
	// Outputs name the policy as the user gave it, never a host path.
	site.File = filepath.ToSlash(path)
	return site, nil
}

// printError prints problems with positions, anything else as one line.
func (e *env) printError(err error) {
	if ps, ok := schema.AsProblems(err); ok {
		ps.Print(e.stderr, e.cwd)
		return
	}
	fmt.Fprintf(e.stderr, "odbackup: %v\n", err)
}
