// Package writetree owns odbackup's only writes to disk: it replaces an
// output folder with a generated tree atomically, and compares a tree with
// what is on disk for --check.
package writetree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/diff"
)

// Write replaces dir with exactly the files of tree. The files go to a
// temporary folder next to dir first, which then takes dir's place in one
// atomic exchange (see swap), so dir is never missing and never half
// written; if anything fails, dir is left as it was. What builds that were
// killed half-way left next to dir is removed first (see removeLeftovers).
func Write(dir string, tree map[string][]byte) error {
	if err := checkPaths(tree); err != nil {
		return err
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	f, err := Open(parent)
	if err != nil {
		return err
	}
	return f.Write(base, tree)
}

// Folder is a folder that receives many trees, each in a sub-folder of its
// own (one per site), with Write's guarantees for each. Open lists it once
// for what killed builds left there, so that a batch of n sites reads it
// once and not n times: a folder of 10,000 site folders takes about 10 ms
// to list, 100 s for a batch that listed it per site.
type Folder struct {
	path string
	// leftovers are the temporary folders Open found, by the name of the
	// sub-folder they belong to (see tempPrefix).
	leftovers map[string][]string
}

// Open creates the folder path if it does not exist and lists the temporary
// folders that builds left in it. A build killed after Open is cleaned up
// after by the next one, as it would be anyway.
func Open(path string) (*Folder, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	f := &Folder{path: path, leftovers: map[string][]string{}}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, ".") {
			continue
		}
		// ".<base>.tmp-…", where base may contain ".tmp-" itself: file
		// the folder under every base it may belong to.
		for i := 1; i < len(name); i++ {
			if strings.HasPrefix(name[i:], ".tmp-") {
				base := name[1:i]
				f.leftovers[base] = append(f.leftovers[base], name)
			}
		}
	}
	return f, nil
}

// Write replaces the sub-folder base of f with exactly the files of tree,
// as the package's Write does. Writes of different sub-folders may run
// concurrently.
func (f *Folder) Write(base string, tree map[string][]byte) (err error) {
	if err := checkPaths(tree); err != nil {
		return err
	}
	if err := removeLeftovers(f.path, base, f.leftovers[base]); err != nil {
		return err
	}
	dir := filepath.Join(f.path, base)
	tmp, err := os.MkdirTemp(f.path, tempPrefix(base)+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return err
	}
	defer func() {
		// After a swap tmp holds the old folder; after a failure, the
		// partial new one. Either way it goes.
		if rmErr := os.RemoveAll(tmp); err == nil {
			err = rmErr
		}
	}()
	// MkdirTemp creates 0700; the output is meant to be read by others.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for _, p := range sortedPaths(tree) {
		target := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, tree[p], 0o644); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		// Nothing to replace: one rename, atomic on its own.
		return os.Rename(tmp, dir)
	}
	return swap(tmp, dir)
}

// tempPrefix starts the names of Write's temporary folders next to the
// folder base: hidden, and telling which folder they belong to. The writing
// process's id follows, so a later build can tell a killed build's
// leftovers from a running build's work.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// removeLeftovers removes the temporary folders of base (names, found in
// parent by Open) that builds killed half-way left. A folder whose writer
// is still running (another build of the same site) is left alone; a name
// without a process id (written by an older odbackup) is a leftover too.
func removeLeftovers(parent, base string, names []string) error {
	prefix := tempPrefix(base)
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		if pidText, _, ok := strings.Cut(rest, "-"); ok {
			if pid, err := strconv.Atoi(pidText); err == nil && pid > 0 && processRunning(pid) {
				continue
			}
		}
		if err := os.RemoveAll(filepath.Join(parent, name)); err != nil {
			return fmt.Errorf("removing %s, left by a build that did not finish: %w", name, err)
		}
	}
	return nil
}

// Diff compares tree with dir and returns a unified diff of every file that
// differs, is missing or is extra on disk; nil when they are the same. label
// names dir in the diff headers.
//
// A file of the tree is compared through one buffer that Diff reuses, and
// is read whole only when it differs: --check of an up-to-date batch reads
// every generated byte once more than a build writes, and reading each file
// into a fresh slice made the check 1.15× the build (BENCHMARKS.md).
func Diff(dir, label string, tree map[string][]byte) ([]byte, error) {
	if err := checkPaths(tree); err != nil {
		return nil, err
	}
	onDisk := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		onDisk[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	all := sortedPaths(tree)
	for p := range onDisk {
		if _, ok := tree[p]; !ok {
			all = append(all, p)
		}
	}
	slices.Sort(all)
	var out bytes.Buffer
	var buf []byte
	for _, p := range all {
		file := filepath.Join(dir, filepath.FromSlash(p))
		want, inTree := tree[p]
		inDisk := onDisk[p]
		if inDisk && inTree {
			same, err := sameContent(file, want, &buf)
			if err != nil {
				return nil, err
			}
			if same {
				continue
			}
		}
		var have []byte
		if inDisk {
			if have, err = os.ReadFile(file); err != nil {
				return nil, err
			}
		}
		oldName, newName := "a/"+label+"/"+p, "b/"+label+"/"+p
		switch {
		case !inDisk:
			oldName = "/dev/null"
		case !inTree:
			newName = "/dev/null"
		}
		d := diff.Diff(oldName, have, newName, want)
		if len(d) == 0 { // both empty files, one missing
			d = []byte(fmt.Sprintf("--- %s\n+++ %s\n", oldName, newName))
		}
		out.Write(d)
	}
	if out.Len() == 0 {
		return nil, nil
	}
	return out.Bytes(), nil
}

// sameContent says whether the file holds exactly want, reading it into
// *buf (grown as needed, kept for the next file). A file of another size
// differs without being read.
func sameContent(file string, want []byte, buf *[]byte) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return false, err
	}
	if info.Size() != int64(len(want)) {
		return false, nil
	}
	if cap(*buf) < len(want)+1 {
		*buf = make([]byte, len(want)+1)
	}
	// One byte more than want: a file that grew since Stat is not the same.
	n, err := io.ReadFull(f, (*buf)[:len(want)+1])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	return n == len(want) && bytes.Equal((*buf)[:n], want), nil
}

func sortedPaths(tree map[string][]byte) []string {
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// checkPaths refuses paths that would leave the output folder.
func checkPaths(tree map[string][]byte) error {
	for p := range tree {
		if p == "" || strings.HasPrefix(p, "/") || slices.Contains(strings.Split(p, "/"), "..") {
			return fmt.Errorf("generated path %q is outside the output folder", p)
		}
	}
	return nil
}
