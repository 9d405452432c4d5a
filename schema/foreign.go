package schema

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// What a policy looks like, for the one message about a file that is not
// one (a kustomization.yaml, a README, a binary): CUE would report every
// line of it.
const expectedPolicy = "odbackup expects a site policy, a CUE file such as `odbackup init` prints"

// notAPolicy recognizes a file that is not text at all.
func notAPolicy(src []byte, start token.Pos) (Problem, bool) {
	if bytes.IndexByte(src, 0) >= 0 || !utf8.Valid(src) {
		return Problem{Msg: "not a site policy: this is a binary file, not text; " + expectedPolicy, Pos: []token.Pos{start}}, true
	}
	return Problem{}, false
}

// topLevelLabel finds what looks like a field at the start of a line, for
// telling a policy with a syntax error from a file of another kind.
var topLevelLabel = regexp.MustCompile(`(?m)^"?([A-Za-z_#][A-Za-z0-9_]*)"?[ \t]*:`)

// parseProblem reports a file CUE cannot parse: the first syntax error
// only (the rest follow from it), or, when the file is not named .cue or no
// line of it starts with
// a field every policy has (site, edition, release, domain), that it is not
// one.
func (s *Schema) parseProblem(err error, filename string, src []byte, start token.Pos) Problems {
	pos, msg := start, err.Error()
	if errs := cueerrors.Errors(err); len(errs) > 0 {
		if p := userPositions(cueerrors.Positions(errs[0])); len(p) > 0 {
			pos = p[0]
		}
		format, args := errs[0].Msg()
		msg = fmt.Sprintf(format, args...)
	}
	if !s.mentionsPolicyField(src) || !strings.HasSuffix(filename, ".cue") {
		return Problems{{Msg: "not a site policy: it is not CUE (CUE stops reading it here); " + expectedPolicy, Pos: []token.Pos{pos}}}
	}
	return Problems{{Msg: "syntax error: " + msg, Pos: []token.Pos{pos}}}
}

func (s *Schema) mentionsPolicyField(src []byte) bool {
	for _, m := range topLevelLabel.FindAllSubmatch(src, -1) {
		if slices.Contains(s.identifying, string(m[1])) {
			return true
		}
	}
	return false
}

// foreignFile recognizes a file that parses as CUE (YAML and JSON often
// do) but has none of the fields every policy has.
func (s *Schema) foreignFile(f *ast.File, start token.Pos) (Problem, bool) {
	var labels []string
	for _, d := range f.Decls {
		field, ok := d.(*ast.Field)
		if !ok {
			continue
		}
		name, _, err := ast.LabelName(field.Label)
		if err != nil {
			continue
		}
		if slices.Contains(s.identifying, name) {
			return Problem{}, false
		}
		if !slices.Contains(labels, name) {
			labels = append(labels, name)
		}
	}
	if len(labels) == 0 {
		return Problem{}, false // empty: CUE says which fields are missing
	}
	shown := labels
	if len(shown) > 5 {
		shown = append(slices.Clone(shown[:5]), "...")
	}
	return Problem{
		Msg: fmt.Sprintf("not a site policy: it has %s at the top, but none of %s; %s", strings.Join(shown, ", "), strings.Join(s.identifying, ", "), expectedPolicy),
		Pos: []token.Pos{start},
	}, true
}
