package main

import (
	"encoding/json"
	"fmt"

	"github.com/odbackup/odbackup/generator/catalogdoc"
	"github.com/odbackup/odbackup/schema"
)

const catalogUsage = `Usage: odbackup catalog [--distribution NAME] [--edition ce|ee] [--release vX.Y] [--format markdown|json|cue]

Prints the catalog of data stores. Without filters it prints all of it: both
editions, every release. --format markdown (the default) is the storage
table regenerated from the catalog, ready for docs; json has the documented
shape odbackup.catalog/v1 (see README); cue is the same data as CUE.
`

type catalogOptions struct {
	distribution string
	edition      string
	release      string
	format       string
}

func parseCatalogArgs(args []string) (catalogOptions, error) {
	var o catalogOptions
	fs := newFlagSet("catalog")
	fs.StringVar(&o.distribution, "distribution", "opendesk", "catalog to print: opendesk or opendesk-edu")
	fs.StringVar(&o.edition, "edition", "", "only stores of this edition: ce or ee")
	fs.StringVar(&o.release, "release", "", "only stores of this openDesk release, e.g. v1.17 or v1.17.2")
	fs.StringVar(&o.format, "format", "markdown", "output format: markdown, json or cue")
	if err := parseFlags(fs, catalogUsage, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("catalog: unexpected argument %q", fs.Arg(0))
	}
	if o.edition != "" {
		if err := oneOf("edition", o.edition, "ce", "ee"); err != nil {
			return o, err
		}
	}
	if o.release != "" {
		line := schema.ReleaseLine(o.release)
		if line == "" {
			return o, usagef("--release must be an openDesk release the catalog knows (v1.17, v1.18, v1.19), not %q", o.release)
		}
		o.release = line
	}
	return o, oneOf("format", o.format, "markdown", "json", "cue")
}

func runCatalog(e *env, args []string) error {
	o, err := parseCatalogArgs(args)
	if err != nil {
		return err
	}
	s, err := e.schema()
	if err != nil {
		return err
	}
	cat := s.Catalog(o.distribution)
	if cat == nil {
		return usagef("--distribution must be one of %v, not %q", s.Distributions(), o.distribution)
	}
	doc := catalogdoc.NewCatalogDoc(cat, o.edition, o.release)
	var out []byte
	switch o.format {
	case "markdown":
		out = catalogdoc.CatalogMarkdown(doc)
	case "json":
		out, err = json.MarshalIndent(doc, "", "  ")
		out = append(out, '\n')
	case "cue":
		out, err = s.FormatCUE(doc)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s", out)
	return err
}
