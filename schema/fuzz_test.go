package schema

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"github.com/rogpeppe/go-internal/txtar"
)

var fuzzSchema = sync.OnceValues(Load)

// FuzzEvaluate feeds the policy loader arbitrary files. Plain `go test`
// runs the seeds: every example policy and every .cue file of the CLI's
// testscript cases, plus files of other kinds. `go test -fuzz` mutates
// them (see README, Development). For any input it holds the invariants of
// issue 16, item 20: no panic; an error is Problems with a message; one
// file's output fits a screenful (MaxLines); every position is a real line
// of the file; no message repeats a literal refused as a secret.
func FuzzEvaluate(f *testing.F) {
	examples, _ := filepath.Glob("../examples/*/site.cue")
	for _, p := range examples {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	scripts, _ := filepath.Glob("../cmd/odbackup/testdata/script/*.txtar")
	for _, p := range scripts {
		a, err := txtar.ParseFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range a.Files {
			if strings.HasSuffix(file.Name, ".cue") {
				f.Add(file.Data)
			}
		}
	}
	for _, p := range []string{"../README.md", "../go.mod", "../.gitignore"} {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - a.yaml\n"))
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := fuzzSchema()
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Vet("/site/site.cue", src, "2026-11-27")
		if err == nil {
			return
		}
		ps, ok := AsProblems(err)
		if !ok {
			t.Fatalf("error is not Problems: %v", err)
		}
		if len(ps) == 0 {
			t.Fatal("empty Problems: a failure without a message")
		}
		lastLine := bytes.Count(src, []byte("\n")) + 1
		for _, p := range ps {
			if strings.TrimSpace(p.Msg) == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
			if len(p.Pos) == 0 {
				t.Fatalf("problem without a position: %s: %s", p.Path, p.Msg)
			}
			for _, pos := range p.Pos {
				if pos.Filename() != "/site/site.cue" || pos.Line() < 1 || pos.Line() > lastLine || pos.Column() < 1 {
					t.Fatalf("%s: %s: position %s:%d:%d is not in the file (%d lines)", p.Path, p.Msg, pos.Filename(), pos.Line(), pos.Column(), lastLine)
				}
			}
		}
		var out bytes.Buffer
		ps.Print(&out, "/site")
		if n := strings.Count(out.String(), "\n"); n > MaxLines {
			t.Fatalf("%d lines of output for one file, more than %d:\n%s", n, MaxLines, out.String())
		}
		for _, secret := range literalSecrets(src) {
			if strings.Contains(out.String(), secret) {
				t.Fatalf("output repeats the literal %q given where a Secret reference belongs:\n%s", secret, out.String())
			}
		}
	})
}

// literalSecrets finds string literals written as the value of a field
// named like a secret (passwordSecret: "hunter22"), which the loader must
// refuse without repeating them. Short strings and strings found elsewhere
// in the file (where a message may quote them for another reason) are left
// out.
func literalSecrets(src []byte) []string {
	f, err := parser.ParseFile("x.cue", src)
	if err != nil {
		return nil
	}
	var out []string
	ast.Walk(f, func(n ast.Node) bool {
		field, ok := n.(*ast.Field)
		if !ok {
			return true
		}
		name, _, _ := ast.LabelName(field.Label)
		lit, ok := field.Value.(*ast.BasicLit)
		if !ok || !secretLike.MatchString(name) {
			return true
		}
		v, err := strconv.Unquote(lit.Value)
		if err != nil || utf8.RuneCountInString(v) < 6 || bytes.Count(src, []byte(v)) != 1 {
			return true
		}
		out = append(out, v)
		return true
	}, nil)
	return out
}
