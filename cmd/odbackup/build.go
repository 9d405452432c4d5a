package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/internal/writetree"
	"github.com/odbackup/odbackup/schema"
)

const buildUsage = `Usage: odbackup build POLICY... [-o DIR] [--check]

Compiles each site policy into DIR/<site>/: a kustomization.yaml, the
VolumeSnapshotClass, one ServiceAccount (with a Role and RoleBinding where its
script uses the API) and one CronJob per backup job, plus restic maintenance.
Every policy is checked first; if any is invalid, nothing is written. Each
site's folder is replaced atomically: a failed build leaves it as it was.

With --check nothing is written: the output is compared with DIR, a unified
diff of what is stale is printed, and the exit code is 1 if anything differs.
`

type buildOptions struct {
	policies []string
	output   string
	check    bool
	jobs     int
}

func parseBuildArgs(args []string) (buildOptions, error) {
	var o buildOptions
	fs := newFlagSet("build")
	fs.StringVarP(&o.output, "output", "o", "out", "folder that receives one sub-folder per site")
	fs.BoolVar(&o.check, "check", false, "compare with DIR instead of writing; exit 1 when stale")
	fs.IntVar(&o.jobs, "jobs", runtime.GOMAXPROCS(0), "sites evaluated in parallel")
	if err := parseFlags(fs, buildUsage, args); err != nil {
		return o, err
	}
	if fs.NArg() == 0 {
		return o, usagef("build: no policy given (usage: odbackup build POLICY... -o DIR)")
	}
	if o.jobs < 1 {
		return o, usagef("--jobs must be at least 1, not %d", o.jobs)
	}
	o.policies = fs.Args()
	return o, nil
}

func runBuild(e *env, args []string) error {
	o, err := parseBuildArgs(args)
	if err != nil {
		if e.printHelp(err) {
			return nil
		}
		return err
	}
	trees, sites, err := e.compile(o.policies, o.jobs)
	if err != nil {
		return err
	}
	if o.check {
		stale := false
		for i, site := range sites {
			dir := filepath.Join(o.output, site.Policy.Site)
			d, err := writetree.Diff(dir, strings.TrimPrefix(filepath.ToSlash(dir), "/"), trees[i])
			if err != nil {
				return err
			}
			if d != nil {
				stale = true
				e.stdout.Write(d)
			}
		}
		if stale {
			fmt.Fprintf(e.stderr, "odbackup: %s is stale; run odbackup build without --check\n", o.output)
			return errProblemsReported
		}
		return nil
	}
	for i, site := range sites {
		if err := writetree.Write(filepath.Join(o.output, site.Policy.Site), trees[i]); err != nil {
			return fmt.Errorf("writing site %s: %w", site.Policy.Site, err)
		}
	}
	return nil
}

// compile evaluates and generates every policy, jobs at a time, on one
// compiled schema; results keep the order of the arguments. Problems of
// every policy are printed before it fails.
func (e *env) compile(paths []string, jobs int) ([]generator.Tree, []*schema.Site, error) {
	if _, err := e.schema(); err != nil {
		return nil, nil, err
	}
	type result struct {
		site *schema.Site
		tree generator.Tree
		err  error
	}
	results := make([]result, len(paths))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(jobs, len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				site, err := e.evaluate(paths[i])
				if err == nil {
					results[i].tree, err = generator.Generate(site)
				}
				results[i].site, results[i].err = site, err
			}
		}()
	}
	for i := range paths {
		work <- i
	}
	close(work)
	wg.Wait()

	failed := false
	owner := map[string]string{}
	sites := make([]*schema.Site, len(paths))
	trees := make([]generator.Tree, len(paths))
	for i, r := range results {
		if r.err != nil {
			failed = true
			e.printError(r.err)
			continue
		}
		name := r.site.Policy.Site
		if prev, dup := owner[name]; dup {
			failed = true
			fmt.Fprintf(e.stderr, "odbackup: %s and %s both describe site %q; each site needs its own name\n", prev, paths[i], name)
			continue
		}
		owner[name] = paths[i]
		sites[i], trees[i] = r.site, r.tree
	}
	if failed {
		return nil, nil, errProblemsReported
	}
	return trees, sites, nil
}
