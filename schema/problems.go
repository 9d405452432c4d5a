package schema

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"cuelang.org/go/cue/token"
)

// Problem is one thing wrong with a policy: the field it concerns, what is
// wrong and what is allowed, and where in the user's files it is.
type Problem struct {
	// Path is the CUE path of the field, e.g. stores."nextcloud/s3/nextcloud".
	Path string
	Msg  string
	// Pos are positions in the user's files, never in the embedded schema.
	Pos []token.Pos
}

// Problems is the error Evaluate returns for an invalid policy. It is data,
// printed once at the CLI edge with positions relative to the working
// directory.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	ps.Print(&b, "")
	return strings.TrimRight(b.String(), "\n")
}

// MaxLines bounds what Print writes for one file: a screenful. Problems
// beyond it are counted, not shown; fixing the first ones usually makes
// most of the rest go away.
const MaxLines = 40

// maxPositions bounds the positions shown for one problem.
const maxPositions = 5

// Print writes every problem as "path: message:" followed by one indented
// "file:line:col" line per position, the format the cue tool uses, in at
// most MaxLines lines.
func (ps Problems) Print(w io.Writer, cwd string) {
	lines := 0
	for i, p := range ps {
		pos := p.Pos
		more := 0
		if len(pos) > maxPositions {
			pos, more = pos[:maxPositions], len(pos)-maxPositions
		}
		need := 1 + len(pos)
		if more > 0 {
			need++
		}
		if lines+need > MaxLines-1 && i < len(ps)-1 || lines+need > MaxLines {
			fmt.Fprintf(w, "(%d more problems not shown: fix the ones above and run odbackup again)\n", len(ps)-i)
			return
		}
		lines += need
		if p.Path != "" {
			fmt.Fprintf(w, "%s: %s", p.Path, p.Msg)
		} else {
			fmt.Fprint(w, p.Msg)
		}
		if len(pos) == 0 {
			fmt.Fprintln(w)
			continue
		}
		fmt.Fprintln(w, ":")
		for _, q := range pos {
			fmt.Fprintf(w, "    %s\n", formatPos(q, cwd))
		}
		if more > 0 {
			fmt.Fprintf(w, "    (and %d more places)\n", more)
		}
	}
}

// formatPos prints a position as file:line:col, relative to cwd when the
// file lies below it ("./site.cue:3:10"), like the cue tool does.
func formatPos(pos token.Pos, cwd string) string {
	name := pos.Filename()
	if cwd != "" && filepath.IsAbs(name) {
		if rel, err := filepath.Rel(cwd, name); err == nil {
			name = rel
			if !strings.HasPrefix(rel, "..") {
				name = "./" + rel
			}
		}
	}
	name = filepath.ToSlash(name)
	return fmt.Sprintf("%s:%d:%d", name, pos.Line(), pos.Column())
}

// sorted orders problems by first position, then path and message, and
// drops exact duplicates, so output never depends on evaluation order.
func (ps Problems) sorted() Problems {
	out := slices.Clone(ps)
	for i := range out {
		slices.SortFunc(out[i].Pos, comparePos)
		out[i].Pos = slices.CompactFunc(out[i].Pos, func(a, b token.Pos) bool { return comparePos(a, b) == 0 })
	}
	slices.SortFunc(out, func(a, b Problem) int {
		var pa, pb token.Pos
		if len(a.Pos) > 0 {
			pa = a.Pos[0]
		}
		if len(b.Pos) > 0 {
			pb = b.Pos[0]
		}
		return cmp.Or(comparePos(pa, pb), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.CompactFunc(out, func(a, b Problem) bool {
		return a.Path == b.Path && a.Msg == b.Msg &&
			slices.EqualFunc(a.Pos, b.Pos, func(x, y token.Pos) bool { return comparePos(x, y) == 0 })
	})
}

func comparePos(a, b token.Pos) int {
	return cmp.Or(
		cmp.Compare(a.Filename(), b.Filename()),
		cmp.Compare(a.Line(), b.Line()),
		cmp.Compare(a.Column(), b.Column()),
	)
}
