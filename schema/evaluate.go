package schema

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// Evaluate checks one site policy against the schema and the catalog and
// returns the resolved site. An invalid policy returns Problems, every one
// with the position of the field it concerns.
func (s *Schema) Evaluate(filename string, src []byte) (*Site, error) {
	return s.evaluate(filename, src, "", "")
}

// VetAtRelease is Vet as if the policy's release field said release: what
// `odbackup vet` would say once the site is upgraded. Problems point at the
// policy's own lines; one about the release points at its release field.
func (s *Schema) VetAtRelease(filename string, src []byte, release, today string) (*Site, error) {
	if today == "" {
		return nil, fmt.Errorf("schema.VetAtRelease: no date given to check waivers against")
	}
	return s.evaluate(filename, src, release, today)
}

// Vet is Evaluate with the checks of `odbackup vet` on top: a schedule
// that never runs and a waiver that expired before today (YYYY-MM-DD) are
// problems too. Build and coverage leave these to the coverage gate, which
// shows them in the report. The schema never reads the clock; the CLI
// passes the date (--today, or the real date at its edge).
func (s *Schema) Vet(filename string, src []byte, today string) (*Site, error) {
	if today == "" {
		return nil, fmt.Errorf("schema.Vet: no date given to check waivers against")
	}
	return s.evaluate(filename, src, "", today)
}

// evaluate is Evaluate, Vet when today is set, and EvaluateAtRelease when
// release is set.
func (s *Schema) evaluate(filename string, src []byte, release, today string) (*Site, error) {
	start := fileStart(filename, src)
	if p, ok := notAPolicy(src, start); ok {
		return nil, Problems{p}
	}
	file, err := parser.ParseFile(filename, src)
	if err != nil {
		return nil, s.parseProblem(err, filename, src, start)
	}
	if p, ok := s.foreignFile(file, start); ok {
		return nil, Problems{p}
	}
	if release != "" {
		setRelease(file, release)
	}
	// A conflict inside the user's file (user.Err) is reported by the
	// validation of merged below, together with everything else.
	user := s.ctx.BuildFile(file)
	merged := user.Unify(s.policyDef)

	c := &checker{s: s, user: user, merged: merged, start: start, today: today}
	c.run()
	// The catalog rules say the same as CUE, but better (with the reason,
	// the edition, the closest valid name): where a rule reported a field,
	// CUE's report about that field is dropped.
	problems := c.problems
	if err := merged.Validate(cue.Concrete(true)); err != nil {
		cueProblems := s.fromCUE(err, merged, start)
		// CUE leaves out unknown fields when the same file has conflicting
		// values; look for them in the file's bare structure too.
		cueProblems = append(cueProblems, s.unknownFields(filename, src, start)...)
		for _, p := range cueProblems {
			if !coveredBy(p.Path, c.problems) {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		return nil, problems.sorted()
	}

	var p Policy
	if err := merged.Decode(&p); err != nil {
		return nil, s.fromCUE(err, merged, start)
	}
	// Resolve from the policy with its defaults, not from the raw file the
	// rules looked at.
	c.apps, c.stores, c.services = p.Apps, p.Stores, p.Services
	c.extra = p.ExtraApps
	for id, app := range c.extra {
		fillAppIDs(id, app)
	}
	return &Site{
		File:        filename,
		Policy:      &p,
		Catalog:     c.catalog,
		ReleaseLine: c.releaseLine,
		Apps:        c.resolution().resolveApps(),
	}, nil
}

// setRelease replaces the value of the file's top-level release field, in
// place, keeping its position.
func setRelease(file *ast.File, release string) {
	for _, decl := range file.Decls {
		field, ok := decl.(*ast.Field)
		if !ok {
			continue
		}
		if name, _, _ := ast.LabelName(field.Label); name == "release" {
			field.Value = &ast.BasicLit{Kind: token.STRING, Value: strconv.Quote(release), ValuePos: field.Value.Pos()}
		}
	}
}

func coveredBy(path string, by Problems) bool {
	for _, q := range by {
		if path == q.Path || strings.HasPrefix(path, q.Path+".") {
			return true
		}
	}
	return false
}

// fileStart is the position of a file's first byte, for problems about a
// field the user did not write at all.
func fileStart(filename string, src []byte) token.Pos {
	f := token.NewFile(filename, 0, len(src)+1)
	// An empty file has no lines to the library; its start is still 1:1.
	if len(src) == 0 {
		f.SetLines([]int{0})
	} else {
		f.SetLinesForContent(src)
	}
	return f.Pos(0, token.NoRelPos)
}

// fromCUE turns CUE's errors into Problems: positions in the embedded
// schema are dropped, and messages that only make sense to someone who reads
// the schema are rewritten to say what is allowed.
func (s *Schema) fromCUE(err error, merged cue.Value, start token.Pos) Problems {
	if err == nil {
		return nil
	}
	type group struct {
		path      string
		pos       []token.Pos
		msgs      []string
		disjuncts []string // allowed values of an empty disjunction
		bad       string   // the user's value in an empty disjunction
		disjoint  bool
	}
	var order []string
	groups := map[string]*group{}
	for _, e := range cueerrors.Errors(err) {
		path := strings.Join(e.Path(), ".")
		g := groups[path]
		if g == nil {
			g = &group{path: path}
			groups[path] = g
			order = append(order, path)
		}
		g.pos = append(g.pos, userPositions(cueerrors.Positions(e))...)
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		switch {
		case strings.HasSuffix(format, "errors in empty disjunction:"):
			g.disjoint = true
		case format == "conflicting values %s and %s" && len(args) == 2:
			g.disjuncts = append(g.disjuncts, fmt.Sprint(args[0]))
			g.bad = fmt.Sprint(args[1])
			g.msgs = append(g.msgs, msg)
		default:
			g.msgs = append(g.msgs, msg)
		}
	}
	var out Problems
	for _, path := range order {
		g := groups[path]
		if len(g.pos) == 0 {
			g.pos = []token.Pos{start}
		}
		msgs := slices.Compact(slices.Sorted(slices.Values(g.msgs)))
		// A literal where a Secret reference belongs may be the secret
		// itself: no message about the field repeats it (messages end up
		// in CI logs).
		if slices.ContainsFunc(msgs, func(m string) bool { return literalSecret(m, path) }) {
			out = append(out, Problem{Path: path, Pos: g.pos, Msg: literalSecretMsg})
			continue
		}
		if g.disjoint {
			if len(g.disjuncts) == len(msgs) {
				slices.Sort(g.disjuncts)
				out = append(out, Problem{Path: path, Pos: g.pos,
					Msg: fmt.Sprintf("invalid value %s (allowed: %s)", g.bad, strings.Join(slices.Compact(g.disjuncts), ", "))})
				continue
			}
			// A value that fails a constraint also "conflicts" with the
			// field's default; only the constraint is worth reading.
			msgs = slices.DeleteFunc(msgs, func(m string) bool { return strings.HasPrefix(m, "conflicting values ") })
		}
		for _, msg := range msgs {
			out = append(out, Problem{Path: path, Pos: g.pos, Msg: s.explain(msg, path, merged)})
		}
	}
	// Errors about values that are already errors (an interpolation of a
	// conflicting field) repeat what another problem says.
	if len(out) > 1 {
		out = slices.DeleteFunc(out, func(p Problem) bool {
			return strings.HasPrefix(p.Msg, "invalid interpolation") || strings.Contains(p.Msg, "(type _|_)")
		})
	}
	return out.sorted()
}

// userPositions drops positions inside the embedded module: the user cannot
// open those files, and the message says what the schema wants.
func userPositions(ps []token.Pos) []token.Pos {
	var out []token.Pos
	for _, p := range ps {
		if p.IsValid() && p.Filename() != "" && !strings.HasPrefix(p.Filename(), EmbeddedPrefix) {
			out = append(out, p)
		}
	}
	return out
}

// literalSecretMsg replaces every message about a field that holds a
// literal where a Secret reference belongs; it never shows the value.
const literalSecretMsg = "a value where a Secret reference {name, key} belongs (the value is not shown; if it was a secret, consider it exposed and change it): a policy never holds secret values, only references to Kubernetes Secrets"

// literalSecret tells whether a CUE message refuses a plain value where a
// struct of Secret references belongs: a Secret reference ({name: ...}) or
// a field named like one (passwordSecret, s3Credentials, accessKeyID).
func literalSecret(msg, path string) bool {
	m := mismatchRE.FindStringSubmatch(msg)
	if m == nil || (m[1] == "struct") == (m[2] == "struct") {
		return false
	}
	return secretConflictRE.MatchString(msg) || secretLike.MatchString(lastLabel(path))
}

func lastLabel(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}

var (
	secretConflictRE = regexp.MustCompile(`^conflicting values (?:\{name:.*\(mismatched types struct and [a-z]+\)|.* and \{name:.*\(mismatched types [a-z]+ and struct\))$`)
	mismatchRE       = regexp.MustCompile(`\(mismatched types ([a-z]+) and ([a-z]+)\)$`)
	numberBoundRE    = regexp.MustCompile(`^invalid value (.*) \(out of bound ([<>]=?)(-?[0-9.]+)\)$`)
	outOfBoundRE     = regexp.MustCompile(`^invalid value (.*) \(out of bound ([=!]~)("(?:[^"\\]|\\.)*")\)$`)
	incompleteRE     = regexp.MustCompile(`^incomplete value (.*)$`)
)

// explain rewrites one CUE message so it says what is allowed.
func (s *Schema) explain(msg, path string, merged cue.Value) string {
	if m := outOfBoundRE.FindStringSubmatch(msg); m != nil {
		if d := describePattern(m[3]); d != "" {
			return fmt.Sprintf("invalid value %s (%s)", m[1], d)
		}
		return msg
	}
	if m := incompleteRE.FindStringSubmatch(msg); m != nil {
		what := m[1]
		if d := describePattern(strings.TrimPrefix(strings.TrimPrefix(what, "=~"), "!~")); d != "" {
			what = d
		}
		return fmt.Sprintf("missing value (%s)", what)
	}
	if m := numberBoundRE.FindStringSubmatch(msg); m != nil {
		words := map[string]string{">": "greater than", ">=": "at least", "<": "less than", "<=": "at most"}
		return fmt.Sprintf("invalid value %s (must be %s %s)", m[1], words[m[2]], m[3])
	}
	if msg == "field not allowed" {
		return notAllowed(path, merged)
	}
	return msg
}

// patternDescriptions explain the schema's regular expressions, found by a
// fragment of their source that only they contain.
var patternDescriptions = []struct{ fragment, text string }{
	{`v1\\.(17|18|19)`, `an openDesk release the catalog knows: v1.17, v1.18 or v1.19, optionally with a patch, e.g. "v1.17.2"`},
	{`@(yearly|annually`, `a 5-field cron schedule "minute hour day-of-month month day-of-week", or @daily, @weekly, ...`},
	{`[0-9]{4}-(0[1-9]`, `a date YYYY-MM-DD`},
	{`s3:https?://|rest:`, `a restic repository URL (s3:, rest:, b2:, azure:, gs: or swift:) without user or password in it; credentials come from Secrets`},
	{`://[^/]*@`, `no user or password in the URL; credentials come from Secrets`},
	{`:latest$`, `an image pinned to a tag or digest other than "latest"`},
	{`(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256`, `an image pinned by tag or digest, e.g. "docker.io/restic/restic:0.18.1"`},
	{`([01][0-9]|2[0-3]):[0-5][0-9]`, `a time of day HH:MM`},
	{`[^ \t\n]`, `a non-empty text`},
	{`(m|k|M|G|T|P|E|Ki|Mi`, `a Kubernetes quantity such as "500m", "256Mi" or "2Gi"`},
	{`(Mi|Gi|Ti|M|G|T)$`, `a volume size: a whole number of Mi, Gi or Ti (or M, G, T), such as "500Mi" or "40Gi"`},
	{`%|[1-9][0-9]*/[1-9]`, `a percentage such as "5%" or a fraction such as "1/10"`},
	{`^https?://[^\\s/@]+`, `an http(s) URL without user or password`},
	{`[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`, `an S3 bucket name: 3 to 63 lower-case letters, digits, '.' and '-'`},
	{`^[A-Za-z0-9]([-.A-Za-z0-9]*[A-Za-z0-9])?$`, `a host name or IP address`},
	{`^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$`, `an IANA time zone such as "Europe/Berlin"`},
	{`^[A-Za-z0-9_$]+\\*?$`, `a database name, optionally ending in "*" to match a prefix`},
	{`(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`, `a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters`},
	{`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, `a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`},
	{`^[a-z0-9]([-a-z0-9]*[a-z0-9])?/(postgresql|`, `a store id "<app>/<kind>/<name>", e.g. "nextcloud/postgresql/nextcloud"`},
	{`^[-._a-zA-Z0-9]+$`, `a Secret key: letters, digits, '-', '_' and '.'`},
}

func describePattern(quoted string) string {
	for _, d := range patternDescriptions {
		if strings.Contains(quoted, d.fragment) {
			return d.text
		}
	}
	return ""
}

// secretLike matches field names that look like an attempt to put a
// secret value into the policy.
var secretLike = regexp.MustCompile(`(?i)(password|passwd|secret|token|apikey|accesskey|credential|username)`)

// notAllowed explains an unknown field with the closest allowed name.
func notAllowed(path string, merged cue.Value) string {
	cp := cue.ParsePath(path)
	sels := cp.Selectors()
	if len(sels) == 0 || cp.Err() != nil {
		return "field not allowed"
	}
	label := unquote(sels[len(sels)-1].String())
	parent := merged.LookupPath(cue.MakePath(sels[:len(sels)-1]...))
	var allowed []string
	if it, err := parent.Fields(cue.Optional(true)); err == nil {
		for it.Next() {
			if name := unquote(it.Selector().String()); name != label {
				allowed = append(allowed, name)
			}
		}
	}
	msg := "field not allowed"
	if secretLike.MatchString(label) {
		msg += "; a policy never holds secret values, only references {name, key} to Kubernetes Secrets"
	}
	return msg + suggest(label, allowed)
}

func unquote(label string) string {
	label = strings.TrimSuffix(label, "?")
	if len(label) >= 2 && label[0] == '"' {
		return label[1 : len(label)-1]
	}
	return label
}

// unknownFields checks the structure of the user's file alone: every value
// that is not a struct or list becomes _ (top), so no value can conflict,
// and the only errors left are fields the schema does not allow.
func (s *Schema) unknownFields(filename string, src []byte, start token.Pos) Problems {
	f, err := parser.ParseFile(filename, src)
	if err != nil {
		return nil
	}
	for _, decl := range f.Decls {
		field, ok := decl.(*ast.Field)
		if !ok {
			continue
		}
		// The distribution selects the catalog the store ids must be in.
		if name, _, _ := ast.LabelName(field.Label); name == "distribution" {
			continue
		}
		field.Value = structureOnly(field.Value)
	}
	bare := s.ctx.BuildFile(f).Unify(s.policyDef)
	var out Problems
	for _, p := range s.fromCUE(bare.Validate(), bare, start) {
		if strings.HasPrefix(p.Msg, "field not allowed") {
			out = append(out, p)
		}
	}
	return out
}

func structureOnly(x ast.Expr) ast.Expr {
	switch v := x.(type) {
	case *ast.StructLit:
		for _, d := range v.Elts {
			if f, ok := d.(*ast.Field); ok {
				f.Value = structureOnly(f.Value)
			}
		}
		return v
	case *ast.ListLit:
		for i, e := range v.Elts {
			v.Elts[i] = structureOnly(e)
		}
		return v
	default:
		return ast.NewIdent("_")
	}
}

// errorsAs is errors.As for the CLI edge; it lives here so the CLI need not
// know that Problems is a slice.
func AsProblems(err error) (Problems, bool) {
	var ps Problems
	ok := errors.As(err, &ps)
	return ps, ok
}
