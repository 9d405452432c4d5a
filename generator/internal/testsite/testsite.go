// Package testsite gives tests of the generator's packages the example
// sites, evaluated and generated once per test binary. It is for tests
// only: it reads files relative to the test's package folder.
package testsite

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/schema"
)

// Sites evaluates every example policy once per test binary. dir is the
// repository's examples folder relative to the test's package folder.
func Sites(dir string) (map[string]*schema.Site, error) { return loadSites(dir) }

var loaded = map[string]func() (map[string]*schema.Site, error){}
var built = map[string]func() (map[string]generator.Tree, error){}
var mu sync.Mutex

func loadSites(dir string) (map[string]*schema.Site, error) {
	mu.Lock()
	f, ok := loaded[dir]
	if !ok {
		f = sync.OnceValues(func() (map[string]*schema.Site, error) { return evaluate(dir) })
		loaded[dir] = f
	}
	mu.Unlock()
	return f()
}

func evaluate(dir string) (map[string]*schema.Site, error) {
	s, err := schema.Load()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "site.cue"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no examples found: %v", err)
	}
	sites := map[string]*schema.Site{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		site, err := s.Evaluate(f, src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		sites[site.Policy.Site] = site
	}
	return sites, nil
}

// Trees generates every example once per test binary, or fails the test.
func Trees(t *testing.T, dir string) map[string]generator.Tree {
	t.Helper()
	mu.Lock()
	f, ok := built[dir]
	if !ok {
		f = sync.OnceValues(func() (map[string]generator.Tree, error) {
			sites, err := loadSites(dir)
			if err != nil {
				return nil, err
			}
			trees := map[string]generator.Tree{}
			for name, site := range sites {
				tree, err := generator.Generate(site)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				trees[name] = tree
			}
			return trees, nil
		})
		built[dir] = f
	}
	mu.Unlock()
	trees, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return trees
}
