package diagram_test

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/odbackup/odbackup/generator/diagram"
)

// sample has every part of the model: styles, a group with its own
// direction, edges inside and between groups, and labels with characters
// Mermaid, D2 and HTML treat specially.
func sample() *diagram.Graph {
	g := diagram.New(diagram.Down)
	g.AddStyle(diagram.Style{Name: "ok", Fill: "#c8e6c9", Stroke: "#2e7d32", Text: "#1b5e20"})
	g.AddStyle(diagram.Style{Name: "gone", Fill: "#ffffff", Stroke: "#bdbdbd", Dashed: true})
	g.AddGroup("t1", `1. data "services"`, diagram.Right)
	g.AddGroup("t2", "2. apps", diagram.Right)
	g.AddNode("a", `x<y & "z" #1`, "t1", "ok")
	g.AddNode("b", "two\nlines", "t1", "")
	g.AddNode("c", "c", "t2", "gone")
	g.AddNode("d", "outside: {d}", "", "")
	g.AddEdge("a", "b")
	g.AddEdge("t1", "t2")
	g.AddEdge("c", "d")
	return g
}

func TestMermaidRoundTrip(t *testing.T) {
	src, err := sample().Mermaid()
	if err != nil {
		t.Fatal(err)
	}
	want := `flowchart TD
  classDef ok fill:#c8e6c9,stroke:#2e7d32,color:#1b5e20
  classDef gone fill:#ffffff,stroke:#bdbdbd,stroke-dasharray:4 3
  subgraph t1["1. data #quot;services#quot;"]
    direction LR
    a["x#lt;y & #quot;z#quot; #35;1"]:::ok
    b["two<br>lines"]
    a --> b
  end
  subgraph t2["2. apps"]
    direction LR
    c["c"]:::gone
  end
  d["outside: {d}"]
  t1 --> t2
  c --> d
`
	if src != want {
		t.Fatalf("Mermaid:\n%s\nwant:\n%s", src, want)
	}
	g, err := diagram.ParseMermaid(src)
	if err != nil {
		t.Fatal(err)
	}
	again, err := g.Mermaid()
	if err != nil || again != src {
		t.Fatalf("read back and written again:\n%s\n%v", again, err)
	}
	if g.Nodes[0].Label != `x<y & "z" #1` || g.Nodes[1].Label != "two\nlines" || g.Groups[0].Label != `1. data "services"` || !g.Styles[1].Dashed {
		t.Errorf("labels or styles not read back: %+v", g)
	}
}

func TestParseMermaidRejects(t *testing.T) {
	for _, src := range []string{
		"sankey-beta\n",
		"flowchart RL\n",
		"flowchart LR\n  a[\"x\"]\n  a --> b\n",
		"flowchart LR\n  a(\"round\")\n",
		"flowchart LR\n  subgraph s[\"s\"]\n  a[\"x\"]\n",
		"flowchart LR\n  a[\"x\"]:::nostyle\n",
		"flowchart LR\n  classDef c font-weight:bold\n",
		"flowchart LR\n  a[\"x\"]\n  a[\"y\"]\n",
	} {
		if _, err := diagram.ParseMermaid(src); err == nil {
			t.Errorf("accepted %q", src)
		}
	}
	_, err := diagram.ParseMermaid("flowchart LR\n  a[\"x\"]\n  a -.-> b\n")
	if err == nil || !strings.Contains(err.Error(), "mermaid line 3") {
		t.Errorf("error does not name the line: %v", err)
	}
}

// TestSVG: the drawing is an <svg> element with every label, loads nothing
// (no URL but the SVG namespaces and its own fragments) and is the same
// bytes every time, also drawn concurrently on one or more CPUs.
func TestSVG(t *testing.T) {
	svg, err := sample().SVG()
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if !strings.HasPrefix(s, "<svg ") || !strings.HasSuffix(strings.TrimSpace(s), "</svg>") {
		t.Fatalf("not an svg element: %.200s", s)
	}
	for _, label := range []string{"x&lt;y &amp; &#34;z&#34; #1", "two", "lines", "1. data &#34;services&#34;", "outside: {d}"} {
		if !strings.Contains(s, label) {
			t.Errorf("svg lacks label %s", label)
		}
	}
	for _, bad := range []string{"<script", "<image", "@import", "http://", "https://", "<?xml"} {
		for _, allowed := range []string{`xmlns="http://www.w3.org/2000/svg"`, `xmlns:xlink="http://www.w3.org/1999/xlink"`} {
			s = strings.ReplaceAll(s, allowed, "")
		}
		if strings.Contains(s, bad) {
			t.Errorf("svg contains %s", bad)
		}
	}
	procs := runtime.GOMAXPROCS(1)
	one, err := sample().SVG()
	runtime.GOMAXPROCS(procs)
	if err != nil || !bytes.Equal(one, svg) {
		t.Errorf("GOMAXPROCS=1 drew different bytes (%v)", err)
	}
	var wg sync.WaitGroup
	again := make([][]byte, 2)
	for i := range again {
		wg.Add(1)
		go func() {
			defer wg.Done()
			again[i], _ = sample().SVG()
		}()
	}
	wg.Wait()
	for _, a := range again {
		if !bytes.Equal(a, svg) {
			t.Error("concurrent drawings differ")
		}
	}
}

func TestCheck(t *testing.T) {
	g := sample()
	g.AddEdge("a", "nowhere")
	if _, err := g.Mermaid(); err == nil {
		t.Error("edge to a missing node accepted")
	}
	if _, err := g.SVG(); err == nil {
		t.Error("edge to a missing node drawn")
	}
	g = sample()
	g.AddNode("end", "x", "", "")
	if _, err := g.Mermaid(); err == nil {
		t.Error("Mermaid keyword end accepted as an id")
	}
}
