package stubs

// The restic stub keeps a repository of its own in the state directory
// (restic/): a password, and snapshots with their host, tags, paths, time
// and content. It plays the subcommands the generated scripts use with
// restic 0.18's exit codes (10: no repository, 11: locked, 12: wrong
// password), its snapshot filters (--host, --tag, --path, --latest) and its
// retention (forget --keep-*, grouped by --group-by).

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Snapshot is a snapshot of the stub's repository.
type Snapshot struct {
	ID       string    `json:"id"`
	ShortID  string    `json:"short_id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Tags     []string  `json:"tags"`
	Paths    []string  `json:"paths"`
	// Files maps each path to its content's file in the repository.
	Files map[string]string `json:"files,omitempty"`
}

// HasTag reports whether the snapshot carries tag.
func (s Snapshot) HasTag(tag string) bool { return slices.Contains(s.Tags, tag) }

// Tag is the value of the snapshot's tag key=value ("" if none).
func (s Snapshot) Tag(key string) string {
	for _, t := range s.Tags {
		if v, ok := strings.CutPrefix(t, key+"="); ok {
			return v
		}
	}
	return ""
}

// repo is the stub repository in dir.
type Repo struct{ Dir string }

func (r Repo) Password() (string, bool) {
	data, err := os.ReadFile(filepath.Join(r.Dir, "password"))
	return string(data), err == nil
}

func (r Repo) Create(password string) error {
	if err := os.MkdirAll(filepath.Join(r.Dir, "snapshots"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, "data"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.Dir, "password"), []byte(password), 0o600)
}

// snapshots lists every snapshot, oldest first.
func (r Repo) Snapshots() ([]Snapshot, error) {
	files, err := filepath.Glob(filepath.Join(r.Dir, "snapshots", "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Snapshot
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s Snapshot
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b Snapshot) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// save stores a snapshot with its files' contents.
func (r Repo) Save(s Snapshot, contents map[string][]byte) (Snapshot, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s %v %v %d", s.Time, s.Hostname, s.Tags, s.Paths, time.Now().UnixNano())
	paths := mapsKeys(contents)
	slices.Sort(paths)
	for _, p := range paths {
		h.Write(contents[p])
	}
	s.ID = hex.EncodeToString(h.Sum(nil))
	s.ShortID = s.ID[:8]
	s.Files = map[string]string{}
	for i, p := range paths {
		name := s.ID + "-" + strconv.Itoa(i)
		if err := os.WriteFile(filepath.Join(r.Dir, "data", name), contents[p], 0o644); err != nil {
			return s, err
		}
		s.Files[p] = name
	}
	data, _ := json.Marshal(s)
	return s, os.WriteFile(filepath.Join(r.Dir, "snapshots", s.ID+".json"), data, 0o644)
}

func (r Repo) Remove(id string) error {
	return os.Remove(filepath.Join(r.Dir, "snapshots", id+".json"))
}

func (r Repo) Content(s Snapshot, path string) ([]byte, bool) {
	name, ok := s.Files[path]
	if !ok {
		name, ok = s.Files["/"+strings.TrimPrefix(path, "/")]
	}
	if !ok {
		return nil, false
	}
	data, err := os.ReadFile(filepath.Join(r.Dir, "data", name))
	return data, err == nil
}

func mapsKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// ResticArgs are a restic command line, parsed: the subcommand, its flags
// (every value of a repeated flag) and the positional arguments; after
// "--", the command of --stdin-from-command.
type ResticArgs struct {
	Sub     string
	Flags   map[string][]string
	Args    []string
	Command []string
}

// resticValueFlags take a value ("--host x" as well as "--host=x").
var resticValueFlags = map[string]bool{
	"host": true, "tag": true, "path": true, "stdin-filename": true, "retry-lock": true,
	"group-by": true, "latest": true, "read-data-subset": true, "repo": true, "r": true,
	"keep-last": true, "keep-hourly": true, "keep-daily": true, "keep-weekly": true,
	"keep-monthly": true, "keep-yearly": true, "keep-within": true, "keep-tag": true,
	"target": true, "password-file": true, "cache-dir": true,
}

func ParseRestic(argv []string) ResticArgs {
	r := ResticArgs{Flags: map[string][]string{}}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			r.Command = argv[i+1:]
			return r
		case strings.HasPrefix(a, "-"):
			name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !hasVal && resticValueFlags[name] && i+1 < len(argv) {
				i++
				val = argv[i]
			}
			r.Flags[name] = append(r.Flags[name], val)
		case r.Sub == "":
			r.Sub = a
		default:
			r.Args = append(r.Args, a)
		}
	}
	return r
}

func (r ResticArgs) has(flag string) bool { _, ok := r.Flags[flag]; return ok }

func (r ResticArgs) one(flag string) string {
	if v := r.Flags[flag]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// filter keeps the snapshots that match --host (any), --tag (any of the
// flags; all tags of one comma list) and --path.
func (r ResticArgs) filter(snaps []Snapshot) []Snapshot {
	var out []Snapshot
	for _, s := range snaps {
		if hosts := r.Flags["host"]; len(hosts) > 0 && !slices.Contains(hosts, s.Hostname) {
			continue
		}
		if tags := r.Flags["tag"]; len(tags) > 0 {
			any := false
			for _, list := range tags {
				all := true
				for _, t := range strings.Split(list, ",") {
					if t != "" && !s.HasTag(t) {
						all = false
					}
				}
				any = any || all
			}
			if !any {
				continue
			}
		}
		if paths := r.Flags["path"]; len(paths) > 0 && !slices.Equal(paths, s.Paths) {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (s *stub) restic() int {
	r := ParseRestic(s.call.Args)
	rp := Repo{Dir: filepath.Join(s.dir, "restic")}
	if r.Sub == "backup" && len(r.Command) > 0 {
		// Recorded after the command ran, so that the call order reads
		// as the data flowed; but recorded also when it fails.
		defer s.record()
	} else {
		s.record()
	}
	if s.action.kind == "fail" {
		fmt.Fprintf(os.Stderr, "Fatal: restic %s failed (stub cue)\n", r.Sub)
		return s.action.code
	}
	pw, exists := rp.Password()
	if r.Sub == "init" {
		if exists {
			fmt.Fprintf(os.Stderr, "Fatal: create repository at %s failed: repository master key and config already initialized\n", os.Getenv("RESTIC_REPOSITORY"))
			return 1
		}
		if err := rp.Create(os.Getenv("RESTIC_PASSWORD")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("created restic repository stub at %s\n", os.Getenv("RESTIC_REPOSITORY"))
		return 0
	}
	if !exists {
		fmt.Fprintf(os.Stderr, "Fatal: repository does not exist: unable to open config file\n")
		return 10
	}
	if pw != os.Getenv("RESTIC_PASSWORD") {
		fmt.Fprintln(os.Stderr, "Fatal: wrong password or no key found")
		return 12
	}
	denied := appendOnly(s.dir)
	if denied != "" && deletes(r) && r.Sub != "forget" && r.Sub != "prune" {
		fmt.Fprintf(os.Stderr, "Fatal: client.RemoveObject: Access Denied. (the stub's server keeps %s from deleting anything but locks/)\n", denied)
		return 1
	}
	snaps, err := rp.Snapshots()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch r.Sub {
	case "cat":
		fmt.Println(`{"version":2,"id":"stub"}`)
	case "unlock", "prune", "check":
		fmt.Printf("stub: %s done\n", r.Sub)
	case "backup":
		return s.resticBackup(rp, r)
	case "snapshots":
		return resticSnapshots(r, snaps)
	case "dump":
		return resticDump(rp, r, snaps, s.action.kind)
	case "ls":
		return resticLs(rp, r, snaps)
	case "forget":
		return resticForget(rp, r, snaps, denied != "")
	default:
		fmt.Fprintf(os.Stderr, "stub restic: unsupported subcommand %q\n", r.Sub)
		return 127
	}
	return 0
}

// AppendOnlyFile (in the state directory) lists, one a line, credentials
// the stub's server treats as append-only: it refuses them every delete but
// of restic's locks/, as an S3 policy that grants s3:DeleteObject only on
// <repository>/locks/* or a rest-server run with --append-only do. A line
// is an S3 access key id (AWS_ACCESS_KEY_ID), a REST user
// (RESTIC_REST_USERNAME) or a repository URL (RESTIC_REPOSITORY).
const AppendOnlyFile = "restic-append-only"

// appendOnly is the credential of this call that the server treats as
// append-only, or "".
func appendOnly(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, AppendOnlyFile))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		for _, env := range []string{"AWS_ACCESS_KEY_ID", "RESTIC_REST_USERNAME", "RESTIC_REPOSITORY"} {
			if v := os.Getenv(env); line != "" && v == line {
				return env + "=" + v
			}
		}
	}
	return ""
}

// deletes tells whether a restic 0.18 call removes repository files other
// than locks: forget and prune (snapshots, packs, indexes), tag and rewrite
// (they save a new snapshot file and remove the old one: cmd_tag.go,
// cmd_rewrite.go call RemoveUnpacked on the snapshot), key remove and key
// passwd, repair. unlock, backup, check, cat, snapshots, dump and restore
// create and remove only their own locks. forget reports and goes on (see
// resticForget); prune, which the stub gives nothing to delete (it keeps no
// packs), succeeds as restic's does when it finds nothing to delete; the
// others the stub fails as restic fails on a refused delete (they are no
// generated script's).
func deletes(r ResticArgs) bool {
	switch r.Sub {
	case "forget", "prune", "tag", "rewrite", "repair":
		return true
	case "key":
		return len(r.Args) > 0 && (r.Args[0] == "remove" || r.Args[0] == "passwd")
	}
	return false
}

// resticBackup stores the output of the command after "--"
// (--stdin-from-command), standard input (--stdin) or the files named. A
// command that exits non-zero leaves no snapshot (exit 1). A command that
// prints nothing and exits 0 leaves a 0-byte snapshot and exits 3, as
// issue 16 item 1 reports of restic 0.18.1.
func (s *stub) resticBackup(rp Repo, r ResticArgs) int {
	snap := Snapshot{Time: time.Now().UTC(), Hostname: r.one("host"), Tags: nil}
	for _, list := range r.Flags["tag"] {
		for _, t := range strings.Split(list, ",") {
			if t != "" {
				snap.Tags = append(snap.Tags, t)
			}
		}
	}
	contents := map[string][]byte{}
	status := 0
	switch {
	case r.has("stdin-from-command"):
		if len(r.Command) == 0 {
			fmt.Fprintln(os.Stderr, "Fatal: --stdin-from-command needs a command")
			return 1
		}
		cmd := exec.Command(r.Command[0], r.Command[1:]...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "Fatal: unable to save snapshot: %s: %v\n", r.Command[0], err)
			return 1
		}
		contents["/"+r.one("stdin-filename")] = out
		if len(out) == 0 {
			fmt.Fprintln(os.Stderr, "Warning: the command's output was empty")
			status = 3
		}
	case r.has("stdin"):
		data, _ := io.ReadAll(os.Stdin)
		contents["/"+r.one("stdin-filename")] = data
	default:
		for _, p := range r.Args {
			err := filepath.Walk(p, func(path string, info os.FileInfo, err error) error {
				if err != nil || info.IsDir() {
					return err
				}
				data, err := os.ReadFile(path)
				abs, _ := filepath.Abs(path)
				contents[abs] = data
				return err
			})
			if err != nil {
				fmt.Fprintf(os.Stderr, "Fatal: %v\n", err)
				return 1
			}
		}
	}
	for p := range contents {
		snap.Paths = append(snap.Paths, p)
	}
	slices.Sort(snap.Paths)
	if r.has("stdin") || r.has("stdin-from-command") {
		snap.Paths = []string{"/" + r.one("stdin-filename")}
	}
	saved, err := rp.Save(snap, contents)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("snapshot %s saved\n", saved.ShortID)
	return status
}

func resticSnapshots(r ResticArgs, snaps []Snapshot) int {
	snaps = r.filter(snaps)
	if len(r.Args) > 0 {
		var picked []Snapshot
		for _, id := range r.Args {
			s, ok := findSnapshot(id, snaps)
			if !ok {
				fmt.Fprintf(os.Stderr, "Ignoring %q: no matching ID found\n", id)
				continue
			}
			picked = append(picked, s)
		}
		snaps = picked
	}
	if n := r.one("latest"); n != "" {
		k, _ := strconv.Atoi(n)
		groups := map[string][]Snapshot{}
		var order []string
		for _, s := range snaps {
			key := s.Hostname + "\x00" + strings.Join(s.Paths, "\x00")
			if _, ok := groups[key]; !ok {
				order = append(order, key)
			}
			groups[key] = append(groups[key], s)
		}
		snaps = nil
		for _, key := range order {
			g := groups[key]
			snaps = append(snaps, g[max(0, len(g)-k):]...)
		}
	}
	if r.has("json") {
		for i := range snaps {
			snaps[i].Files = nil
		}
		if snaps == nil {
			snaps = []Snapshot{}
		}
		data, _ := json.Marshal(snaps)
		fmt.Println(string(data))
		return 0
	}
	fmt.Println("ID        Time                 Host        Tags        Paths")
	for _, s := range snaps {
		fmt.Printf("%s  %s  %s  %s  %s\n", s.ShortID, s.Time.Format("2006-01-02 15:04:05"), s.Hostname, strings.Join(s.Tags, ","), strings.Join(s.Paths, ","))
	}
	fmt.Printf("%d snapshots\n", len(snaps))
	return 0
}

// findSnapshot resolves "latest" (the newest of snaps) or an ID prefix.
func findSnapshot(id string, snaps []Snapshot) (Snapshot, bool) {
	if id == "latest" {
		if len(snaps) == 0 {
			return Snapshot{}, false
		}
		return snaps[len(snaps)-1], true
	}
	var found []Snapshot
	for _, s := range snaps {
		if strings.HasPrefix(s.ID, id) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		return Snapshot{}, false
	}
	return found[0], true
}

// resticLs lists the files of a snapshot under the paths given (all
// without), as restic 0.18 does: with --json one line for the snapshot
// (its fields and "id", "short_id", "struct_type":"snapshot") and one per
// file ("path", "size", "struct_type":"node"); a path the snapshot does
// not hold is listed as nothing, with exit 0.
func resticLs(rp Repo, r ResticArgs, snaps []Snapshot) int {
	if len(r.Args) == 0 {
		fmt.Fprintln(os.Stderr, "Fatal: no snapshot ID specified, specify snapshot ID or use special ID 'latest'")
		return 1
	}
	s, ok := snapshotArg(r, snaps)
	if !ok {
		return 1
	}
	paths := mapsKeys(s.Files)
	slices.Sort(paths)
	type node struct {
		Name       string `json:"name"`
		Type       string `json:"type"`
		Path       string `json:"path"`
		Size       int    `json:"size"`
		StructType string `json:"struct_type"`
	}
	if r.has("json") {
		type snapshotLine struct {
			Snapshot
			StructType string `json:"struct_type"`
		}
		line := snapshotLine{s, "snapshot"}
		line.Files = nil
		data, _ := json.Marshal(line)
		fmt.Println(string(data))
	}
	for _, p := range paths {
		if len(r.Args) > 1 && !slices.ContainsFunc(r.Args[1:], func(q string) bool {
			return p == q || strings.HasPrefix(p, strings.TrimSuffix(q, "/")+"/")
		}) {
			continue
		}
		data, _ := rp.Content(s, p)
		if !r.has("json") {
			fmt.Println(p)
			continue
		}
		out, _ := json.Marshal(node{Name: filepath.Base(p), Type: "file", Path: p, Size: len(data), StructType: "node"})
		fmt.Println(string(out))
	}
	return 0
}

// snapshotArg is the snapshot the first argument names among those the
// filters keep; it says so on stderr, as restic does, when there is none.
func snapshotArg(r ResticArgs, snaps []Snapshot) (Snapshot, bool) {
	s, ok := findSnapshot(r.Args[0], r.filter(snaps))
	if !ok {
		fmt.Fprintf(os.Stderr, "Fatal: failed to find snapshot: no matching ID found for prefix %q\n", r.Args[0])
	}
	return s, ok
}

// resticDump writes a file of a snapshot to standard output: on cue
// "short" half of it with exit 0 (a stream cut short that restic did not
// notice), on "empty" nothing.
func resticDump(rp Repo, r ResticArgs, snaps []Snapshot, cue string) int {
	if len(r.Args) != 2 {
		fmt.Fprintln(os.Stderr, "Fatal: dump needs a snapshot and a file")
		return 1
	}
	s, ok := snapshotArg(r, snaps)
	if !ok {
		return 1
	}
	data, ok := rp.Content(s, r.Args[1])
	if !ok {
		fmt.Fprintf(os.Stderr, "Fatal: cannot dump file: path %q not found in snapshot\n", r.Args[1])
		return 1
	}
	switch cue {
	case "short":
		data = data[:len(data)/2]
	case "empty":
		data = nil
	}
	os.Stdout.Write(data)
	return 0
}

// resticForget applies restic's retention: the snapshots that match the
// filters, grouped by --group-by (default host,paths), each group kept by
// the --keep-* rules (a snapshot is kept when some rule keeps it).
//
// With append-only credentials (denied) it does what restic 0.18.1 does
// when the server refuses the deletes: it reports each snapshot it could
// not remove and exits 0 all the same (cmd/restic/cmd_forget.go ignores
// the errors of ParallelRemove; seen against versitygw with a policy
// that denies s3:DeleteObject, e2e TestAppendOnlyS3Credentials).
func resticForget(rp Repo, r ResticArgs, snaps []Snapshot, denied bool) int {
	groupBy := strings.Split(r.one("group-by"), ",")
	if !r.has("group-by") {
		groupBy = []string{"host", "paths"}
	}
	groups := map[string][]Snapshot{}
	var order []string
	for _, s := range r.filter(snaps) {
		var key []string
		for _, g := range groupBy {
			switch g {
			case "host":
				key = append(key, s.Hostname)
			case "paths":
				key = append(key, strings.Join(s.Paths, ","))
			case "tags":
				key = append(key, strings.Join(s.Tags, ","))
			}
		}
		k := strings.Join(key, "\x00")
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	rules := []struct {
		flag   string
		bucket func(time.Time) string
	}{
		{"keep-last", nil},
		{"keep-hourly", func(t time.Time) string { return t.Format("2006-01-02 15") }},
		{"keep-daily", func(t time.Time) string { return t.Format("2006-01-02") }},
		{"keep-weekly", func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) }},
		{"keep-monthly", func(t time.Time) string { return t.Format("2006-01") }},
		{"keep-yearly", func(t time.Time) string { return t.Format("2006") }},
	}
	if !slices.ContainsFunc(rules, func(rule struct {
		flag   string
		bucket func(time.Time) string
	}) bool {
		return r.has(rule.flag)
	}) && !r.has("keep-tag") {
		fmt.Fprintln(os.Stderr, "Fatal: no policy was specified, no snapshots will be removed")
		return 1
	}
	removed := 0
	for _, k := range order {
		g := groups[k]
		keep := map[string]bool{}
		for _, rule := range rules {
			n, err := strconv.Atoi(r.one(rule.flag))
			if err != nil || n <= 0 {
				continue
			}
			last := ""
			for i := len(g) - 1; i >= 0 && n > 0; i-- {
				b := g[i].ID
				if rule.bucket != nil {
					b = rule.bucket(g[i].Time.UTC())
				}
				if b != last {
					keep[g[i].ID] = true
					last = b
					n--
				}
			}
		}
		// --keep-tag keeps every snapshot that has all tags of one list,
		// whatever the other rules say.
		for _, s := range g {
			for _, list := range r.Flags["keep-tag"] {
				if !slices.ContainsFunc(strings.Split(list, ","), func(tag string) bool { return !s.HasTag(tag) }) {
					keep[s.ID] = true
				}
			}
		}
		for _, s := range g {
			if !keep[s.ID] && denied {
				fmt.Fprintf(os.Stderr, "Remove(<snapshot/%.10s>) failed: client.RemoveObject: Access Denied.\nunable to remove snapshot/%s from the repository\n", s.ID, s.ID)
				continue
			}
			if !keep[s.ID] {
				if err := rp.Remove(s.ID); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
				removed++
			}
		}
	}
	fmt.Printf("removed %d snapshots\n", removed)
	return 0
}
