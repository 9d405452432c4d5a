package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/odbackup/odbackup/generator/starter"
	"github.com/odbackup/odbackup/schema"
)

const initUsage = `Usage: odbackup init [--distribution NAME] [--edition ce|ee] [--release vX.Y.Z] [--site NAME] [--domain DOMAIN] [--namespace NS]

Prints a starter site policy for the given edition and release: every app
with its default enablement, a decision on every optional store (with the
storage table's reason as a comment), and every default written out, so a
site starts from a complete file. What init cannot know (the domain unless
--domain is given, the S3 host, the CSI driver) is a placeholder
"<replace: ...>" that vet refuses, naming its line, until it is replaced.
Optional stores are decided only for the apps deployed by default. Redirect
it into site.cue, then edit the placeholders and the decisions.
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
	fs.StringVar(&o.starter.Domain, "domain", "", "openDesk's global.domain (default: a placeholder to replace)")
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
	// The starter names one release exactly, as the site's helmfile does.
	if !fullRelease.MatchString(o.starter.Release) || schema.ReleaseLine(o.starter.Release) == "" {
		return o, usagef("--release must be a full openDesk release vX.Y.Z of a line the catalog knows (v1.17, v1.18, v1.19), e.g. v1.17.2, not %q", o.starter.Release)
	}
	return o, nil
}

var fullRelease = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// initFlagOf names the flag behind a field of the starter's policy.
var initFlagOf = map[string]string{"site": "site", "domain": "domain", "namespace": "namespace",
	"edition": "edition", "release": "release", "distribution": "distribution"}

// flagProblems turns the problems of the starter's minimal policy into a
// usage error about the flags that caused them: a bad value is a mistake in
// the command line (exit 2), like any flag error.
func flagProblems(err error) error {
	ps, ok := schema.AsProblems(err)
	if !ok {
		return err
	}
	// Problems elsewhere (the repository URL holds the site's name)
	// follow from a bad flag; the flag is what to fix.
	var msgs []string
	for _, p := range ps {
		if flag, ok := initFlagOf[p.Path]; ok {
			msgs = append(msgs, fmt.Sprintf("--%s: %s", flag, p.Msg))
		}
	}
	if len(msgs) == 0 {
		return fmt.Errorf("init: the starter for these flags is invalid:\n%w", err)
	}
	return usagef("%s", strings.Join(msgs, "\nodbackup: "))
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
		return flagProblems(err)
	}
	out, err := s.FormatSource(starter.StarterPolicy(o.starter, site))
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(out)
	return err
}
