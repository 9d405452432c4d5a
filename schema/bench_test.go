package schema

import (
	"os"
	"testing"
)

// BenchmarkLoad is the fixed cost of a process: compiling the embedded CUE
// module and decoding the catalogs.
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluate is the cost per site: unify, validate, rules, decode
// and resolve one policy against the loaded schema.
func BenchmarkEvaluate(b *testing.B) {
	s, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile("../examples/ee-full/site.cue")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Evaluate("site.cue", src); err != nil {
			b.Fatal(err)
		}
	}
}
