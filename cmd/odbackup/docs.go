package main

import (
	"fmt"
	"runtime"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/docsite"
	"github.com/odbackup/odbackup/internal/writetree"
	"github.com/odbackup/odbackup/schema"
)

const docsUsage = `Usage: odbackup docs POLICY... -o DIR [--format html|markdown] [--jobs N]

Exports the documents odbackup build writes for each site (the restore
runbooks and, where built, the coverage report: every Markdown file) to
DIR/<site>/, with the restore Jobs they link to.

--format html (the default) makes a small static site: one page per
document, rendered with goldmark (GitHub Flavored Markdown), links between
documents pointing at their pages, navigation on every page, a print
stylesheet, and the Mermaid diagrams drawn at export time as inline SVG (by
D2): the pages load nothing from any other host and work offline.
--format markdown writes the Markdown files as they are, for teams that
publish Markdown themselves.

Every policy is checked first; if any is invalid, nothing is written. Each
site's folder is replaced atomically: a failed export leaves it as it was.
`

type docsOptions struct {
	policies []string
	output   string
	format   docsite.DocFormat
	jobs     int
}

func parseDocsArgs(args []string) (docsOptions, error) {
	var o docsOptions
	var format string
	fs := newFlagSet("docs")
	fs.StringVarP(&o.output, "output", "o", "", "folder that receives one sub-folder per site (required)")
	fs.StringVar(&format, "format", string(docsite.DocHTML), "html (a static site) or markdown (the files as they are)")
	fs.IntVar(&o.jobs, "jobs", runtime.GOMAXPROCS(0), "sites evaluated in parallel")
	if err := parseFlags(fs, docsUsage, args); err != nil {
		return o, err
	}
	if fs.NArg() == 0 {
		return o, usagef("docs: no policy given (usage: odbackup docs POLICY... -o DIR)")
	}
	if o.output == "" {
		return o, usagef("docs: no output folder given (usage: odbackup docs POLICY... -o DIR)")
	}
	if o.jobs < 1 {
		return o, usagef("--jobs must be at least 1, not %d", o.jobs)
	}
	if err := oneOf("format", format, string(docsite.DocHTML), string(docsite.DocMarkdown)); err != nil {
		return o, err
	}
	o.format = docsite.DocFormat(format)
	o.policies = fs.Args()
	return o, nil
}

func runDocs(e *env, args []string) error {
	o, err := parseDocsArgs(args)
	if err != nil {
		return err
	}
	b, err := e.checkBatch(o.policies, o.jobs, true, evaluatorOn(""))
	if err != nil {
		return err
	}
	// Every policy is valid: generate, render and write site by site, as
	// build does.
	out, err := writetree.Open(o.output)
	if err != nil {
		return err
	}
	_, err = e.eachSite(b, o.jobs, func(s *schema.Site) ([]byte, error) {
		site := s.Policy.Site
		tree, err := generator.Generate(s)
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", site, err)
		}
		docs, err := docsite.DocSite(tree, site, o.format)
		if err != nil {
			return nil, err
		}
		if err := out.Write(site, docs); err != nil {
			return nil, fmt.Errorf("writing the documents of site %s: %w", site, err)
		}
		return nil, nil
	})
	return err
}
