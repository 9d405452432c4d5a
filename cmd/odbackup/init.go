package main

import (
	"fmt"

	"github.com/odbackup/odbackup/generator/starter"
	"github.com/odbackup/odbackup/schema"
)

const initUsage = `Usage: odbackup init [--distribution NAME] [--edition ce|ee] [--release vX.Y.Z] [--site NAME] [--domain DOMAIN] [--namespace NS]

Prints a starter site policy for the given edition and release: every app
with its default enablement, a decision on every optional store (with the
storage table's reason as a comment), and every default written out, so a
site starts from a complete, valid file. Redirect it into site.cue, then edit
the target, the CSI driver and the decisions.
`

type initOptions struct {
	starter starter.StarterOptions
}

func parseInitArgs(args []string) (initOptions, error) {
	var o initOptions
	fs := newFlagSet("init")
	fs.StringVar(&o.starter.Distribution, "distribution", "opendesk", "catalog: opendesk or opendesk-edu")
	fs.StringVar(&o.starter.Edition, "edition", "ce", "openDesk edition: ce or ee")
	fs.StringVar(&o.starter.Release, "release", "v1.17.0", "openDesk release the site runs")
	fs.StringVar(&o.starter.Site, "site", "my-site", "site name (DNS label)")
	fs.StringVar(&o.starter.Domain, "domain", "opendesk.example.org", "openDesk's global.domain")
	fs.StringVar(&o.starter.Namespace, "namespace", "opendesk", "namespace openDesk runs in")
	if err := parseFlags(fs, initUsage, args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usagef("init: unexpected argument %q", fs.Arg(0))
	}
	if err := oneOf("edition", o.starter.Edition, "ce", "ee"); err != nil {
		return o, err
	}
	if schema.ReleaseLine(o.starter.Release) == "" {
		return o, usagef("--release must be an openDesk release the catalog knows (v1.17, v1.18, v1.19), not %q", o.starter.Release)
	}
	return o, nil
}

func runInit(e *env, args []string) error {
	o, err := parseInitArgs(args)
	if err != nil {
		return err
	}
	s, err := e.schema()
	if err != nil {
		return err
	}
	cat := s.Catalog(o.starter.Distribution)
	if cat == nil {
		return usagef("--distribution must be one of %v, not %q", s.Distributions(), o.starter.Distribution)
	}
	// The defaults come from evaluating a minimal policy, so the starter
	// always shows what the schema really does.
	minimal := starter.MinimalPolicy(o.starter, cat)
	site, err := s.Evaluate("(odbackup init)", minimal)
	if err != nil {
		return fmt.Errorf("init: the starter for these flags is invalid:\n%w", err)
	}
	out, err := s.FormatSource(starter.StarterPolicy(o.starter, site))
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(out)
	return err
}
