package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/coverage"
)

const coverageUsage = `Usage: odbackup coverage POLICY [--base OLD [--base-name NAME]] [--format text|markdown|json] [--today YYYY-MM-DD]

Reports what the site policy backs up: every store of the catalog and of the
site's own apps, with its status, method, CronJob, schedule, RPO (the longest
gap between two runs), retention and target, or why it goes without backup.

With --base, prints what changed against OLD instead, store by store, short
enough for a merge-request comment. OLD is an older policy (.cue) or an older
coverage.json (as odbackup build writes it); other names are told apart by
their content. --base-name says what OLD is in the report (CI passes the
target branch, "main"); without it, the report names OLD's path.

Exits 1 when a required store of a deployed app is neither covered nor
waived (a schedule that never runs does not cover), when a waiver has
expired (a waiver is valid through its expiry date), or when --base shows
that a required store which was backed up left the policy while its app
still runs; 0 otherwise; 2 on a usage error or a base it cannot read.
`

type coverageOptions struct {
	policy   string
	base     string
	baseName string
	format   string
	today    string
}

func parseCoverageArgs(args []string) (coverageOptions, error) {
	var o coverageOptions
	fs := newFlagSet("coverage")
	fs.StringVar(&o.base, "base", "", "older policy (.cue) or coverage.json to compare with")
	fs.StringVar(&o.baseName, "base-name", "", "what --base is in the report, e.g. the target branch (default: its path)")
	fs.StringVar(&o.format, "format", "text", "output format: text, markdown or json")
	fs.StringVar(&o.today, "today", "", "date that waiver expiry is checked against (default: today)")
	if err := parseFlags(fs, coverageUsage, args); err != nil {
		return o, err
	}
	switch fs.NArg() {
	case 0:
		return o, usagef("coverage: no policy given (usage: odbackup coverage POLICY [--base OLD])")
	case 1:
		o.policy = fs.Arg(0)
	default:
		return o, usagef("coverage: one policy at a time, not %d (usage: odbackup coverage POLICY [--base OLD])", fs.NArg())
	}
	if o.baseName != "" && o.base == "" {
		return o, usagef("--base-name names --base, and no --base is given")
	}
	if err := checkDate("today", o.today); err != nil {
		return o, err
	}
	return o, oneOf("format", o.format, "text", "markdown", "json")
}

func runCoverage(e *env, args []string) error {
	o, err := parseCoverageArgs(args)
	if err != nil {
		return err
	}
	if o.today == "" {
		o.today = e.now().Format(time.DateOnly)
	}
	// The base is read first: a base that cannot be read is a mistake in
	// the command line, whatever the policy says.
	var base *coverage.Coverage
	if o.base != "" {
		if base, err = e.baseCoverage(o.base); err != nil {
			return err
		}
	}
	head, err := e.coverage(o.policy)
	if err != nil {
		return err
	}
	gate, err := coverage.CheckCoverage(head, o.today)
	if err != nil {
		return err
	}
	var out []byte
	if base == nil {
		head.Gate = &gate
		out, err = renderReport(head, o.format)
	} else {
		name := filepath.ToSlash(o.base)
		if o.baseName != "" {
			name = o.baseName
		}
		d := coverage.CompareCoverage(*base, head, name)
		d.WithLostCoverage(gate)
		gate = *d.Gate
		out, err = renderDiff(d, o.format)
	}
	if err != nil {
		return err
	}
	if _, err := e.stdout.Write(out); err != nil {
		return err
	}
	if len(gate.Problems) == 0 {
		return nil
	}
	for _, p := range gate.Problems {
		fmt.Fprintf(e.stderr, "odbackup: %s\n", p)
	}
	return errProblemsReported
}

// coverage evaluates and plans a policy and describes its coverage.
func (e *env) coverage(path string) (coverage.Coverage, error) {
	site, err := e.evaluate(path)
	if err != nil {
		return coverage.Coverage{}, err
	}
	plan, err := generator.NewPlan(site)
	if err != nil {
		return coverage.Coverage{}, err
	}
	return coverage.NewCoverage(plan)
}

// baseCoverage reads --base: a coverage.json by its extension or, for other
// names, by its content (a JSON object with a schemaVersion); a policy
// otherwise. Whatever fails here is a usage error.
func (e *env) baseCoverage(path string) (*coverage.Coverage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--base: %v", err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".json" || (ext != ".cue" && looksLikeCoverage(data)) {
		c, err := coverage.ParseCoverage(data)
		if err != nil {
			return nil, usagef("--base %s is not a coverage.json odbackup can read: %v", path, err)
		}
		return &c, nil
	}
	c, err := e.coverage(path)
	if err != nil {
		e.printError(err)
		return nil, usagef("--base %s is not a valid policy for this odbackup (see above); compare with its coverage.json instead", path)
	}
	return &c, nil
}

func looksLikeCoverage(data []byte) bool {
	var head struct {
		SchemaVersion string `json:"schemaVersion"`
	}
	return bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) && json.Unmarshal(data, &head) == nil && head.SchemaVersion != ""
}

func renderReport(c coverage.Coverage, format string) ([]byte, error) {
	switch format {
	case "markdown":
		return append([]byte(coverage.GateMarkdown(c.Gate)), coverage.CoverageMarkdown(c)...), nil
	case "json":
		return coverage.CoverageJSON(c)
	}
	gate := coverage.GateText(c.Gate)
	if gate != "" {
		gate += "\n"
	}
	return append([]byte(gate), coverage.CoverageText(c)...), nil
}

func renderDiff(d coverage.CoverageDiff, format string) ([]byte, error) {
	switch format {
	case "markdown":
		return coverage.DiffMarkdown(d), nil
	case "json":
		return coverage.CoverageJSON(d)
	}
	return coverage.DiffText(d), nil
}
