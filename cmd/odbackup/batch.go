package main

import (
	"fmt"
	"os"

	"github.com/odbackup/odbackup/schema"
)

// defaultChunk is how many policies of a batch are evaluated against one
// compiled schema. The CUE runtime keeps every file it compiled for as long
// as its context lives (about 85 KiB per policy, used or not), and a
// decoded site takes about 60 KiB more: 10,000 policies held at once are
// 1.5 GiB of live heap. A batch of more policies than this is evaluated
// chunk by chunk, each chunk against a schema compiled for it alone (0.3 s
// per chunk), which the garbage collector takes with the chunk.
const defaultChunk = 500

// evaluator evaluates one policy's source against a schema: Evaluate, or
// Vet on a given day.
type evaluator func(s *schema.Schema, name string, src []byte) (*schema.Site, error)

// evaluatorOn is Evaluate, or with today (YYYY-MM-DD) set, Vet on that day.
func evaluatorOn(today string) evaluator {
	return func(s *schema.Schema, name string, src []byte) (*schema.Site, error) {
		if today != "" {
			return s.Vet(name, src, today)
		}
		return s.Evaluate(name, src)
	}
}

// batch is the policies of one command that were all found valid.
type batch struct {
	paths []string
	// sources are the files as the check read them: a later pass
	// evaluates the bytes that were checked, even if a file changes.
	sources  [][]byte
	evaluate evaluator
	chunk    int
	// sites are the check's own sites when the batch was one chunk, and
	// nil when they had to be let go.
	sites []*schema.Site
}

// checkBatch checks every policy, jobs at a time and e.chunk at a time,
// and prints the problems of every invalid one in argument order. Two
// policies for the same site are an error when uniqueSites is set: they
// would write the same folder. Nothing of a chunk but the file's bytes is
// kept past it, so the memory a check needs does not grow with the batch.
func (e *env) checkBatch(paths []string, jobs int, uniqueSites bool, evaluate evaluator) (*batch, error) {
	b := &batch{paths: paths, sources: make([][]byte, len(paths)), evaluate: evaluate, chunk: e.chunk}
	sites := make([]*schema.Site, len(paths))
	failed := false
	owner := map[string]string{}
	err := b.eachChunk(e, func(s *schema.Schema, lo, hi int) error {
		errs := make([]error, hi-lo)
		forEach(hi-lo, jobs, func(k int) error {
			i := lo + k
			if b.sources[i], errs[k] = os.ReadFile(paths[i]); errs[k] == nil {
				sites[i], errs[k] = e.evaluateSource(s, paths[i], b.sources[i], evaluate)
			}
			return nil
		})
		for k, err := range errs {
			i := lo + k
			if err != nil {
				failed = true
				e.printError(err)
				continue
			}
			name := sites[i].Policy.Site
			if !b.oneChunk() {
				sites[i] = nil
			}
			if prev, dup := owner[name]; dup && uniqueSites {
				failed = true
				fmt.Fprintf(e.stderr, "odbackup: %s and %s both describe site %q; each site needs its own name\n", prev, paths[i], name)
				continue
			}
			owner[name] = paths[i]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if failed {
		return nil, errProblemsReported
	}
	if b.oneChunk() {
		b.sites = sites
	}
	return b, nil
}

func (b *batch) oneChunk() bool { return len(b.paths) <= b.chunk }

// eachChunk calls fn for the chunks [lo, hi) of the batch in order, with
// the schema to evaluate the chunk against: the process's schema when the
// batch is one chunk, else one compiled for the chunk alone. It stops at
// the first error.
func (b *batch) eachChunk(e *env, fn func(s *schema.Schema, lo, hi int) error) error {
	load := e.schema
	if !b.oneChunk() {
		load = schema.Load
	}
	for lo := 0; lo < len(b.paths); lo += b.chunk {
		s, err := load()
		if err != nil {
			return err
		}
		if err := fn(s, lo, min(lo+b.chunk, len(b.paths))); err != nil {
			return err
		}
	}
	return nil
}

// eachSite calls fn for every site of the batch, jobs at a time and chunk
// by chunk (evaluating each policy again, against its chunk's schema, when
// the check could not keep the sites), and writes what fn returns to
// stdout in argument order once a chunk is done. A site is let go as soon
// as fn returns. It stops after the first chunk in which fn failed, with
// the error of that chunk's lowest index, and reports whether fn returned
// anything to print.
func (e *env) eachSite(b *batch, jobs int, fn func(site *schema.Site) ([]byte, error)) (printed bool, err error) {
	err = b.eachChunk(e, func(s *schema.Schema, lo, hi int) error {
		outs := make([][]byte, hi-lo)
		err := forEach(hi-lo, jobs, func(k int) error {
			i := lo + k
			site, err := b.site(e, s, i)
			if err != nil {
				return err
			}
			outs[k], err = fn(site)
			return err
		})
		if err != nil {
			return err
		}
		for _, out := range outs {
			if out != nil {
				printed = true
				e.stdout.Write(out)
			}
		}
		return nil
	})
	return printed, err
}

// site returns the site of policy i and lets go of what the batch holds
// of it.
func (b *batch) site(e *env, s *schema.Schema, i int) (*schema.Site, error) {
	src := b.sources[i]
	b.sources[i] = nil
	if b.sites != nil {
		site := b.sites[i]
		b.sites[i] = nil
		return site, nil
	}
	return e.evaluateSource(s, b.paths[i], src, b.evaluate)
}
