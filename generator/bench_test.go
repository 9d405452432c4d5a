package generator_test

import (
	"os"
	"testing"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/schema"
)

func benchSite(b *testing.B) *schema.Site {
	s, err := schema.Load()
	if err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile("../examples/ee-full/site.cue")
	if err != nil {
		b.Fatal(err)
	}
	site, err := s.Evaluate("site.cue", src)
	if err != nil {
		b.Fatal(err)
	}
	return site
}

// BenchmarkPlan is the cost of deciding jobs, methods and schedules for
// the full EE example.
func BenchmarkPlan(b *testing.B) {
	site := benchSite(b)
	for b.Loop() {
		if _, err := generator.NewPlan(site); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEmit is the cost of rendering the plan into files.
func BenchmarkEmit(b *testing.B) {
	plan, err := generator.NewPlan(benchSite(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := generator.Emit(plan); err != nil {
			b.Fatal(err)
		}
	}
}
