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

const buildUsage = `Usage: odbackup build POLICY... [-o DIR] [--check] [--jobs N]

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
		return err
	}
	b, err := e.checkBatch(o.policies, o.jobs, true, evaluatorOn(""))
	if err != nil {
		return err
	}
	// Every policy is valid: generate and write (or compare) site by site,
	// so a batch of a thousand sites never holds all their files at once.
	var out *writetree.Folder
	if !o.check {
		if out, err = writetree.Open(o.output); err != nil {
			return err
		}
	}
	stale, err := e.eachSite(b, o.jobs, func(site *schema.Site) ([]byte, error) {
		tree, err := generator.Generate(site)
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", site.Policy.Site, err)
		}
		if o.check {
			dir := filepath.Join(o.output, site.Policy.Site)
			return writetree.Diff(dir, strings.TrimPrefix(filepath.ToSlash(dir), "/"), tree)
		}
		if err := out.Write(site.Policy.Site, tree); err != nil {
			return nil, fmt.Errorf("writing site %s: %w", site.Policy.Site, err)
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	if stale {
		fmt.Fprintf(e.stderr, "odbackup: %s is stale; run odbackup build without --check\n", o.output)
		return errProblemsReported
	}
	return nil
}

// forEach runs fn for 0..n-1 on up to jobs goroutines and returns the
// error of the lowest index that failed, so the message does not depend
// on scheduling.
func forEach(n, jobs int, fn func(i int) error) error {
	errs := make([]error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(jobs, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				errs[i] = fn(i)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
