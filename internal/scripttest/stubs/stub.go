// Package stubs plays the commands the generated scripts call (restic,
// pg_dump, pg_restore, psql, mariadb, mariadb-dump, kubectl, rclone,
// redis-cli, nodetool, slapcat) for the script tests of internal/scripttest.
// One binary (cmd/stub) is linked under every name; it plays the command it
// was started as. Every call is appended to calls.jsonl in the state
// directory (ODBACKUP_STUB_DIR), then the stub looks up its cue (the file
// cues) and does what the cue says: ok (the default: what the real tool
// would do), fail [N], short (half its output, exit 0), empty (no output,
// exit 0) or hang (sleep until killed).
//
// It owns the stubs' state formats (the restic repository, the namespace's
// objects, the call log), which the sandbox reads too; it knows nothing of
// odbackup's generator.
package stubs

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Names are the commands the sandbox stubs.
var Names = []string{
	"restic", "pg_dump", "pg_restore", "psql", "mariadb", "mariadb-dump",
	"kubectl", "rclone", "redis-cli", "nodetool", "slapcat",
}

// StateEnv names the variable that points the stubs at the sandbox's state.
const StateEnv = "ODBACKUP_STUB_DIR"

// Call is one recorded call of a stub.
type Call struct {
	Cmd  string   `json:"cmd"`
	Args []string `json:"args"`
	// Stdin is the file (in the state directory) that holds what the
	// stub read from its standard input, if it reads it.
	Stdin string `json:"stdin,omitempty"`
	// Action is the cue the stub followed.
	Action string `json:"action"`
}

// Line is the call as a command line, for matching and messages.
func (c Call) Line() string { return c.Cmd + " " + strings.Join(c.Args, " ") }

// Main plays a stub when the running binary was started under a stub's
// name and then exits; otherwise it returns at once. A test package that
// uses a Sandbox calls it first thing in TestMain.
func Main() {
	name := filepath.Base(os.Args[0])
	for _, n := range Names {
		if n == name {
			os.Exit(runStub(name, os.Args[1:]))
		}
	}
}

// stub is one running stub call.
type stub struct {
	dir    string
	call   Call
	action action
}

type action struct {
	kind string // ok, fail, short, empty, hang
	code int    // exit code of fail
}

func (a action) String() string {
	if a.kind == "fail" {
		return fmt.Sprintf("fail %d", a.code)
	}
	return a.kind
}

func runStub(name string, args []string) int {
	dir := os.Getenv(StateEnv)
	if dir == "" {
		fmt.Fprintf(os.Stderr, "stub %s: %s is not set\n", name, StateEnv)
		return 127
	}
	s := &stub{dir: dir, call: Call{Cmd: name, Args: args}}
	a, err := s.cue()
	if err != nil {
		fmt.Fprintf(os.Stderr, "stub %s: %v\n", name, err)
		return 127
	}
	s.action = a
	s.call.Action = a.String()
	stubNight = s.generation()
	if a.kind == "hang" {
		s.record()
		time.Sleep(time.Hour)
		return 1
	}
	switch name {
	case "restic":
		return s.restic()
	case "kubectl":
		return s.kubectl()
	case "pg_dump":
		return s.produce("pg_dump: error: connection to server lost", pgDump(lastDBName(args)))
	case "mariadb-dump":
		return s.produce("mariadb-dump: Got error: 2013: Lost connection to server during query", mariadbDump(lastArg(args)))
	case "mariadb":
		return s.mariadb()
	case "slapcat":
		return s.produce("slapcat: database error", ldif(stubNight))
	case "redis-cli":
		return s.redis()
	case "rclone":
		return s.rclone()
	default: // pg_restore, psql, nodetool: consume the input, if any
		return s.consume(name + ": error")
	}
}

// cue finds the first rule of the cues file that matches the call. A rule
// is a line "CMD [WORD...]: ACTION"; every WORD must be a substring of the
// call's arguments (joined by spaces).
func (s *stub) cue() (action, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, "cues"))
	if os.IsNotExist(err) {
		return action{kind: "ok"}, nil
	}
	if err != nil {
		return action{}, err
	}
	line := strings.Join(s.call.Args, " ")
	for _, rule := range strings.Split(string(data), "\n") {
		head, act, ok := strings.Cut(rule, ": ")
		if !ok {
			continue
		}
		words := strings.Fields(head)
		if len(words) == 0 || words[0] != s.call.Cmd {
			continue
		}
		match := true
		for _, w := range words[1:] {
			if !strings.Contains(line, w) {
				match = false
			}
		}
		if match {
			return parseAction(act)
		}
	}
	return action{kind: "ok"}, nil
}

func parseAction(s string) (action, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return action{}, fmt.Errorf("empty action")
	}
	switch f[0] {
	case "ok", "short", "empty", "hang":
		return action{kind: f[0]}, nil
	case "fail":
		a := action{kind: "fail", code: 1}
		if len(f) > 1 {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return action{}, fmt.Errorf("fail %q: not an exit code", f[1])
			}
			a.code = n
		}
		return a, nil
	}
	return action{}, fmt.Errorf("unknown action %q (ok, fail [N], short, empty, hang)", s)
}

// record appends the call to calls.jsonl.
func (s *stub) record() {
	data, _ := json.Marshal(s.call)
	f, err := os.OpenFile(filepath.Join(s.dir, "calls.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stub %s: recording: %v\n", s.call.Cmd, err)
		return
	}
	defer f.Close()
	f.Write(append(data, '\n'))
}

// readStdin reads the whole standard input into a file of the state
// directory and records the call with it.
func (s *stub) readStdin() []byte { return s.readInput(os.Stdin) }

// readInput reads r whole into a file of the state directory and records
// the call with it, as its input.
func (s *stub) readInput(r io.Reader) []byte {
	data, _ := io.ReadAll(r)
	f, err := os.CreateTemp(s.dir, "stdin-"+s.call.Cmd+"-*")
	if err == nil {
		f.Write(data)
		f.Close()
		s.call.Stdin = filepath.Base(f.Name())
	}
	return data
}

// produce writes out according to the cue: all of it, half of it then an
// error (fail), half of it with exit 0 (short), nothing (empty).
func (s *stub) produce(errMsg string, out []byte) int {
	s.record()
	switch s.action.kind {
	case "fail":
		os.Stdout.Write(out[:len(out)/2])
		fmt.Fprintln(os.Stderr, errMsg)
		return s.action.code
	case "short":
		os.Stdout.Write(out[:len(out)/2])
	case "empty":
	default:
		os.Stdout.Write(out)
	}
	return 0
}

// consume reads its input (a restore) and succeeds, or fails on cue.
func (s *stub) consume(errMsg string) int {
	if s.action.kind == "fail" {
		// A failing consumer reads part of its input, as pg_restore
		// does before an error.
		buf := make([]byte, 512)
		os.Stdin.Read(buf)
		s.record()
		fmt.Fprintln(os.Stderr, errMsg)
		return s.action.code
	}
	// pg_restore --jobs reads its archive from the file it is given
	// (the last argument); that file is its input.
	if f, err := os.Open(lastArg(s.call.Args)); s.call.Cmd == "pg_restore" && err == nil {
		s.readInput(f)
		f.Close()
	} else if !isTerminalOrNull(os.Stdin) {
		s.readStdin()
	}
	s.record()
	return 0
}

// isTerminalOrNull reports whether f is not worth reading: no input given.
func isTerminalOrNull(f *os.File) bool {
	st, err := f.Stat()
	if err != nil {
		return true
	}
	return st.Mode()&os.ModeCharDevice != 0
}

// stubNight is the sandbox's night (see generation).
var stubNight int

// generation is the "night" the sandbox is in (the file generation, 1 by
// default): the data a producer prints carries it, so a test can tell one
// night's backup from another's.
func (s *stub) generation() int {
	data, err := os.ReadFile(filepath.Join(s.dir, "generation"))
	if err != nil {
		return 1
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

func lastArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[len(args)-1]
}

// lastDBName is pg_dump's database: --dbname=X, or PGDATABASE.
func lastDBName(args []string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--dbname="); ok {
			return v
		}
	}
	return os.Getenv("PGDATABASE")
}

// Content of the producers. Each names what it holds and the night, and
// ends with the marker the real tool writes last, so a cut stream is
// visibly cut.
func pgDump(db string) []byte {
	return filler(fmt.Sprintf("PGDMP custom-format dump of database %s, night %s\n", db, strconv.Itoa(stubNight)), "-- end of pg_dump "+db+"\n")
}

func mariadbDump(db string) []byte {
	return filler(fmt.Sprintf("-- MariaDB dump 10.19  Database: %s night %s\nCREATE DATABASE `%s`;\n", db, strconv.Itoa(stubNight), db), "-- Dump completed\n")
}

func ldif(night int) []byte {
	var b strings.Builder
	b.WriteString("dn: dc=opendesk,dc=test\nobjectClass: domain\ndc: opendesk\n\n")
	for i := range 50 {
		fmt.Fprintf(&b, "dn: uid=user%d,dc=opendesk,dc=test\nobjectClass: account\nuid: user%d\ndescription: night %d\n\n", i, i, night)
	}
	return []byte(b.String())
}

func filler(head, tail string) []byte {
	var b strings.Builder
	b.WriteString(head)
	for i := range 100 {
		fmt.Fprintf(&b, "row %d of the table\n", i)
	}
	b.WriteString(tail)
	return []byte(b.String())
}

// mariadb answers SHOW DATABASES LIKE from the file mariadb-databases
// (one name a line); otherwise it consumes its input (a restore).
func (s *stub) mariadb() int {
	for _, a := range s.call.Args {
		sql, ok := strings.CutPrefix(a, "--execute=")
		if !ok {
			continue
		}
		s.record()
		if s.action.kind == "fail" {
			fmt.Fprintln(os.Stderr, "ERROR 1045 (28000): Access denied")
			return s.action.code
		}
		if s.action.kind == "empty" {
			return 0
		}
		pattern, ok := likePattern(sql)
		if !ok {
			fmt.Fprintf(os.Stderr, "stub mariadb: unsupported statement %q\n", sql)
			return 127
		}
		data, _ := os.ReadFile(filepath.Join(s.dir, "mariadb-databases"))
		for _, db := range strings.Fields(string(data)) {
			if likeMatch(pattern, db) {
				fmt.Println(db)
			}
		}
		return 0
	}
	return s.consume("ERROR 2013 (HY000) at line 42: Lost connection to server during query")
}

// likePattern is the pattern of "SHOW DATABASES LIKE '...'".
func likePattern(sql string) (string, bool) {
	rest, ok := strings.CutPrefix(sql, "SHOW DATABASES LIKE '")
	if !ok || !strings.HasSuffix(rest, "'") {
		return "", false
	}
	return strings.TrimSuffix(rest, "'"), true
}

// likeMatch matches SQL LIKE: % any run, _ one character, \ escapes.
func likeMatch(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch {
	case p[0] == '\\' && len(p) > 1:
		return s != "" && s[0] == p[1] && likeMatch(p[2:], s[1:])
	case p[0] == '%':
		for i := 0; i <= len(s); i++ {
			if likeMatch(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case p[0] == '_':
		return s != "" && likeMatch(p[1:], s[1:])
	}
	return s != "" && s[0] == p[0] && likeMatch(p[1:], s[1:])
}

// redis writes an RDB to the file of --rdb FILE ("-": standard output).
func (s *stub) redis() int {
	file := ""
	for i, a := range s.call.Args {
		if a == "--rdb" && i+1 < len(s.call.Args) {
			file = s.call.Args[i+1]
		}
	}
	if file == "" {
		return s.consume("redis-cli: error")
	}
	s.record()
	rdb := filler("REDIS0011 night "+strconv.Itoa(stubNight)+"\n", "\xffRDB-END")
	failed := false
	switch s.action.kind {
	case "fail":
		// As redis-cli when the connection ends mid-transfer: what it
		// read is written, then it exits non-zero.
		rdb, failed = rdb[:len(rdb)/2], true
	case "short":
		rdb = rdb[:len(rdb)/2]
	case "empty":
		rdb = nil
	}
	if file == "-" {
		os.Stdout.Write(rdb)
	} else if err := os.WriteFile(file, rdb, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if failed {
		fmt.Fprintln(os.Stderr, "I/O Error reading RDB payload from socket")
		return s.action.code
	}
	fmt.Fprintln(os.Stderr, "Transfer finished with success.")
	return 0
}

// rclone: obscure prints a stand-in for the obscured input; lsf lists the
// lines of the file rclone-lsf; copyto copies between local files and the
// folder rclone-remote (a remote's path after its colon), copying nothing
// and succeeding when the source is not there, as rclone does; checksum writes the file rclone-combined
// to its --combined file and fails when a line of it is not a match
// ("= "); everything else succeeds or fails on cue.
func (s *stub) rclone() int {
	sub := ""
	if len(s.call.Args) > 0 {
		sub = s.call.Args[0]
	}
	if sub == "obscure" {
		in := s.readStdin()
		s.record()
		if s.action.kind == "fail" {
			return s.action.code
		}
		fmt.Printf("obscured-%x\n", len(in))
		return 0
	}
	s.record()
	if s.action.kind == "fail" {
		fmt.Fprintf(os.Stderr, "ERROR : %s: failed\n", sub)
		return s.action.code
	}
	if sub == "lsf" {
		data, _ := os.ReadFile(filepath.Join(s.dir, "rclone-lsf"))
		os.Stdout.Write(data)
	}
	if sub == "copyto" && len(s.call.Args) >= 3 {
		local := func(p string) string {
			if _, rest, ok := strings.Cut(p, ":"); ok {
				return filepath.Join(s.dir, "rclone-remote", filepath.FromSlash(rest))
			}
			return p
		}
		data, err := os.ReadFile(local(s.call.Args[1]))
		if err != nil {
			// As rclone does: a source that is no file is a folder
			// with nothing to copy.
			return 0
		}
		dst := local(s.call.Args[2])
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if sub == "checksum" {
		data, _ := os.ReadFile(filepath.Join(s.dir, "rclone-combined"))
		for _, a := range s.call.Args {
			if p, ok := strings.CutPrefix(a, "--combined="); ok {
				os.WriteFile(p, data, 0o644)
			}
		}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if l != "" && !strings.HasPrefix(l, "= ") {
				fmt.Fprintln(os.Stderr, "ERROR : files differ")
				return 1
			}
		}
	}
	return 0
}
