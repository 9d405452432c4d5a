package main

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/coverage"
	"github.com/odbackup/odbackup/generator/upgrade"
	"github.com/odbackup/odbackup/schema"
)

const upgradeUsage = `Usage: odbackup upgrade POLICY --to vX.Y.Z [--format text|markdown|json] [--today YYYY-MM-DD]

Says what bumping the site's openDesk release to vX.Y.Z changes for its
backups: the stores and workloads that appear, disappear or change, the
decisions the site must make before its policy is valid at the new release
(exactly what odbackup vet says with release: "vX.Y.Z"), and the coverage
before and after, as odbackup coverage --base lists it. The policy file is
not changed.

Exits 0 when the policy is valid at the new release as it is, 1 when it is
not (or is not valid at its own release), 2 on a usage error: a --to that is
not a release odbackup's catalog knows, or older than the policy's release.
`

type upgradeOptions struct {
	policy string
	to     string
	format string
	today  string
}

var fullReleaseRE = regexp.MustCompile(`^v([0-9]+)\.([0-9]+)\.([0-9]+)$`)

func parseUpgradeArgs(args []string) (upgradeOptions, error) {
	var o upgradeOptions
	fs := newFlagSet("upgrade")
	fs.StringVar(&o.to, "to", "", "the openDesk release to upgrade to, vX.Y.Z")
	fs.StringVar(&o.format, "format", "text", "output format: text, markdown or json")
	fs.StringVar(&o.today, "today", "", "date that waiver expiry is checked against (default: today)")
	if err := parseFlags(fs, upgradeUsage, args); err != nil {
		return o, err
	}
	switch fs.NArg() {
	case 0:
		return o, usagef("upgrade: no policy given (usage: odbackup upgrade POLICY --to vX.Y.Z)")
	case 1:
		o.policy = fs.Arg(0)
	default:
		return o, usagef("upgrade: one policy at a time, not %d (usage: odbackup upgrade POLICY --to vX.Y.Z)", fs.NArg())
	}
	if o.to == "" {
		return o, usagef("upgrade: --to is required: the openDesk release to upgrade to, e.g. --to v1.19.0")
	}
	if !fullReleaseRE.MatchString(o.to) {
		return o, usagef("--to must be a full openDesk release vX.Y.Z (e.g. v1.19.0), not %q", o.to)
	}
	if o.today != "" {
		if _, err := time.Parse(time.DateOnly, o.today); err != nil {
			return o, usagef("--today must be a date YYYY-MM-DD, not %q", o.today)
		}
	}
	return o, oneOf("format", o.format, "text", "markdown", "json")
}

func runUpgrade(e *env, args []string) error {
	o, err := parseUpgradeArgs(args)
	if err != nil {
		return err
	}
	if o.today == "" {
		o.today = e.now().Format(time.DateOnly)
	}
	site, err := e.evaluate(o.policy)
	if ps, ok := schema.AsProblems(err); ok {
		// An invalid policy is exit 1, as for every command.
		ps.Print(e.stderr, e.cwd)
		fmt.Fprintf(e.stderr, "odbackup: upgrade: %s is not valid at its own release; fix it first (odbackup vet %s)\n", o.policy, o.policy)
		return errProblemsReported
	}
	if err != nil {
		return err
	}
	s, err := e.schema()
	if err != nil {
		return err
	}
	if err := checkBump(s, site, o.to); err != nil {
		return err
	}

	next, problems, err := e.vetAtRelease(o.policy, o.to, o.today)
	if err != nil {
		return err
	}
	report := upgrade.Compare(site, o.to, next)
	for _, p := range problems {
		var b bytes.Buffer
		schema.Problems{p}.Print(&b, e.cwd)
		report.Decisions = append(report.Decisions, b.String())
	}
	if next != nil {
		before, err := coverageOf(site)
		if err != nil {
			return err
		}
		after, err := coverageOf(next)
		if err != nil {
			return err
		}
		d := coverage.CompareCoverage(before, after, "release "+site.Policy.Release)
		gate, err := coverage.CheckCoverage(after, o.today)
		if err != nil {
			return err
		}
		d.WithLostCoverage(gate)
		report.Coverage = &d
	}

	var out []byte
	switch o.format {
	case "markdown":
		out = upgrade.Markdown(report)
	case "json":
		if out, err = upgrade.JSON(report); err != nil {
			return err
		}
	default:
		out = upgrade.Text(report)
	}
	if _, err := e.stdout.Write(out); err != nil {
		return err
	}
	if !report.Valid {
		fmt.Fprintf(e.stderr, "odbackup: %s is not valid at openDesk %s: %d decision(s) to make (listed above)\n", o.policy, o.to, len(problems))
		return errProblemsReported
	}
	if report.Coverage != nil && len(report.Coverage.Gate.Problems) > 0 {
		for _, p := range report.Coverage.Gate.Problems {
			fmt.Fprintf(e.stderr, "odbackup: %s\n", p)
		}
		return errProblemsReported
	}
	return nil
}

// checkBump refuses a --to that is not a later release of a line some
// catalog knows; whether the site's distribution has that line is a
// decision vet reports (openDesk Edu is on v1.17 only).
func checkBump(s *schema.Schema, site *schema.Site, to string) error {
	line := schema.ReleaseLine(to)
	if line == "" {
		var known []string
		for _, d := range s.Distributions() {
			known = append(known, s.Catalog(d).Releases...)
		}
		slices.Sort(known)
		known = slices.Compact(known)
		return usagef("--to %s: odbackup's catalog does not know openDesk %s (known release lines: %s); a newer odbackup may",
			to, releaseLineOf(to), strings.Join(known, ", "))
	}
	if c := compareReleases(to, site.Policy.Release); c < 0 {
		return usagef("--to %s is older than the policy's release %s: odbackup upgrade only moves forward; to go back, restore the pre-upgrade backups (runbooks/upgrade.md)", to, site.Policy.Release)
	}
	return nil
}

func releaseLineOf(release string) string {
	m := fullReleaseRE.FindStringSubmatch(release)
	if m == nil {
		return release
	}
	return "v" + m[1] + "." + m[2]
}

// compareReleases compares vX.Y[.Z] versions; a missing patch is 0.
func compareReleases(a, b string) int {
	parse := func(v string) [3]int {
		var out [3]int
		for i, part := range strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3) {
			out[i], _ = strconv.Atoi(part)
		}
		return out
	}
	pa, pb := parse(a), parse(b)
	for i := range pa {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// vetAtRelease is what vet says of the policy as if its release were
// release: the site when it is valid there, its problems when it is not.
func (e *env) vetAtRelease(path, release, today string) (*schema.Site, schema.Problems, error) {
	site, err := e.evaluateWith(path, func(s *schema.Schema, name string, src []byte) (*schema.Site, error) {
		return s.VetAtRelease(name, src, release, today)
	})
	if ps, ok := schema.AsProblems(err); ok {
		return nil, ps, nil
	}
	return site, nil, err
}

func coverageOf(site *schema.Site) (coverage.Coverage, error) {
	plan, err := generator.NewPlan(site)
	if err != nil {
		return coverage.Coverage{}, err
	}
	return coverage.NewCoverage(plan)
}
