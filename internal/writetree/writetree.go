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
	"strings"

	"github.com/rogpeppe/go-internal/diff"
)

// Write replaces dir with exactly the files of tree. The files go to a
// temporary folder next to dir first, which is then renamed into place; if
// anything fails, dir is left as it was.
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
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
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
	old := ""
	if _, err := os.Lstat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
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
