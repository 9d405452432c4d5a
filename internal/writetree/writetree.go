// Package writetree owns odbackup's only writes to disk: it replaces an
// output folder with a generated tree atomically, and compares a tree with
// what is on disk for --check.
package writetree

import (
	"bytes"
	"errors"
	"fmt"
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
func Write(dir string, tree map[string][]byte) (err error) {
	if err := checkPaths(tree); err != nil {
		return err
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	if err := removeLeftovers(parent, base); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, tempPrefix(base)+strconv.Itoa(os.Getpid())+"-")
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

// removeLeftovers removes the temporary folders of base that builds killed
// half-way left in parent. A folder whose writer is still running (another
// build of the same site) is left alone; a name without a process id
// (written by an older odbackup) is a leftover too.
func removeLeftovers(parent, base string) error {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return err
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		if pidText, _, ok := strings.Cut(rest, "-"); ok {
			if pid, err := strconv.Atoi(pidText); err == nil && pid > 0 && processRunning(pid) {
				continue
			}
		}
		if err := os.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
			return fmt.Errorf("removing %s, left by a build that did not finish: %w", e.Name(), err)
		}
	}
	return nil
}

// Diff compares tree with dir and returns a unified diff of every file that
// differs, is missing or is extra on disk; nil when they are the same. label
// names dir in the diff headers.
func Diff(dir, label string, tree map[string][]byte) ([]byte, error) {
	if err := checkPaths(tree); err != nil {
		return nil, err
	}
	onDisk := map[string][]byte{}
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
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		onDisk[filepath.ToSlash(rel)] = data
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
	for _, p := range all {
		have, inDisk := onDisk[p]
		want, inTree := tree[p]
		if inDisk && inTree && bytes.Equal(have, want) {
			continue
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
