package diagram

import (
	"fmt"
	"strings"
)

// Mermaid writes the graph as a Mermaid flowchart (the text inside a
// ```mermaid fence): style classes, then each group with its nodes and the
// edges inside it, then the nodes outside groups, then the other edges.
// ParseMermaid reads exactly this form back.
func (g *Graph) Mermaid() (string, error) {
	if err := g.Check(); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("flowchart " + string(g.Direction) + "\n")
	for _, s := range g.Styles {
		props := []string{}
		for _, p := range [][2]string{{"fill", s.Fill}, {"stroke", s.Stroke}, {"color", s.Text}} {
			if p[1] != "" {
				props = append(props, p[0]+":"+p[1])
			}
		}
		if s.Dashed {
			props = append(props, "stroke-dasharray:4 3")
		}
		fmt.Fprintf(&b, "  classDef %s %s\n", s.Name, strings.Join(props, ","))
	}
	node := func(indent string, n Node) {
		fmt.Fprintf(&b, "%s%s[\"%s\"]", indent, n.ID, mermaidLabel(n.Label))
		if n.Style != "" {
			b.WriteString(":::" + n.Style)
		}
		b.WriteString("\n")
	}
	for _, gr := range g.Groups {
		fmt.Fprintf(&b, "  subgraph %s[\"%s\"]\n    direction %s\n", gr.ID, mermaidLabel(gr.Label), gr.Direction)
		for _, n := range g.Nodes {
			if n.Group == gr.ID {
				node("    ", n)
			}
		}
		for _, e := range g.Edges {
			if g.inGroup(e, gr.ID) {
				fmt.Fprintf(&b, "    %s --> %s\n", e.From, e.To)
			}
		}
		b.WriteString("  end\n")
	}
	for _, n := range g.Nodes {
		if n.Group == "" {
			node("  ", n)
		}
	}
	for _, e := range g.Edges {
		if !g.inGroup(e, g.group(e.From)) {
			fmt.Fprintf(&b, "  %s --> %s\n", e.From, e.To)
		}
	}
	return b.String(), nil
}

// inGroup: both ends of e are nodes of group (not "").
func (g *Graph) inGroup(e Edge, group string) bool {
	if group == "" {
		return false
	}
	isNode := func(id string) bool {
		for _, n := range g.Nodes {
			if n.ID == id {
				return n.Group == group
			}
		}
		return false
	}
	return isNode(e.From) && isNode(e.To)
}

// Mermaid's entity codes keep quotes and angle brackets from ending a label
// or being read as HTML; "#" itself is escaped so that every "#" in a
// written label starts an entity and reading is unambiguous.
var (
	labelEscaper   = strings.NewReplacer("#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", "<br>")
	labelUnescaper = strings.NewReplacer("#35;", "#", "#quot;", `"`, "#lt;", "<", "#gt;", ">", "<br>", "\n")
)

func mermaidLabel(s string) string { return labelEscaper.Replace(s) }

// ParseMermaid reads a flowchart that Graph.Mermaid wrote. Anything else
// (another diagram type, Mermaid syntax Mermaid() never writes) is an error
// naming the line, so a diagram is never silently dropped.
func ParseMermaid(src string) (*Graph, error) {
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	g := &Graph{}
	header, ok := strings.CutPrefix(lines[0], "flowchart ")
	if !ok || (Direction(header) != Right && Direction(header) != Down) {
		return nil, fmt.Errorf("mermaid line 1: want \"flowchart LR\" or \"flowchart TD\", got %q", lines[0])
	}
	g.Direction = Direction(header)
	group := ""
	for i, raw := range lines[1:] {
		line := strings.TrimSpace(raw)
		fail := func(what string) error {
			return fmt.Errorf("mermaid line %d: %s: %q", i+2, what, line)
		}
		switch {
		case strings.HasPrefix(line, "classDef "):
			f := strings.SplitN(line, " ", 3)
			if len(f) != 3 {
				return nil, fail("classDef needs a name and properties")
			}
			s := Style{Name: f[1]}
			for _, p := range strings.Split(f[2], ",") {
				k, v, _ := strings.Cut(p, ":")
				switch k {
				case "fill":
					s.Fill = v
				case "stroke":
					s.Stroke = v
				case "color":
					s.Text = v
				case "stroke-dasharray":
					s.Dashed = true
				default:
					return nil, fail("unknown style property " + k)
				}
			}
			g.AddStyle(s)
		case strings.HasPrefix(line, "subgraph "):
			if group != "" {
				return nil, fail("subgraphs do not nest")
			}
			id, label, style, err := nodeDecl(strings.TrimPrefix(line, "subgraph "))
			if err != nil || style != "" {
				return nil, fail("want subgraph ID[\"label\"]")
			}
			group = id
			g.AddGroup(id, label, g.Direction)
		case strings.HasPrefix(line, "direction "):
			d := Direction(strings.TrimPrefix(line, "direction "))
			if group == "" || (d != Right && d != Down) {
				return nil, fail("direction LR or TD is allowed only inside a subgraph")
			}
			g.Groups[len(g.Groups)-1].Direction = d
		case line == "end":
			if group == "" {
				return nil, fail("end without subgraph")
			}
			group = ""
		case strings.Contains(line, " --> "):
			from, to, _ := strings.Cut(line, " --> ")
			if !validID(from) || !validID(to) {
				return nil, fail("want FROM --> TO")
			}
			g.AddEdge(from, to)
		default:
			id, label, style, err := nodeDecl(line)
			if err != nil {
				return nil, fail(err.Error())
			}
			g.AddNode(id, label, group, style)
		}
	}
	if group != "" {
		return nil, fmt.Errorf("mermaid: subgraph %s has no end", group)
	}
	if err := g.Check(); err != nil {
		return nil, fmt.Errorf("mermaid: %w", err)
	}
	return g, nil
}

// nodeDecl reads ID["label"] with an optional :::style.
func nodeDecl(s string) (id, label, style string, err error) {
	id, rest, ok := strings.Cut(s, `["`)
	if !ok || !validID(id) {
		return "", "", "", fmt.Errorf(`want ID["label"]`)
	}
	label, rest, ok = strings.Cut(rest, `"]`)
	if !ok || strings.Contains(label, `"`) {
		return "", "", "", fmt.Errorf(`want ID["label"]`)
	}
	if rest != "" {
		style, ok = strings.CutPrefix(rest, ":::")
		if !ok || !validID(style) {
			return "", "", "", fmt.Errorf("want :::style after the label")
		}
	}
	return id, labelUnescaper.Replace(label), style, nil
}

// MermaidSVG draws a Mermaid flowchart that Graph.Mermaid wrote as SVG:
// how the HTML export turns the Markdown documents' diagrams into pictures.
func MermaidSVG(src string) ([]byte, error) {
	g, err := ParseMermaid(src)
	if err != nil {
		return nil, err
	}
	return g.SVG()
}

// MustMermaid is Mermaid for graphs that the generator builds itself, where
// an inconsistent graph is a bug in odbackup, not a user's mistake.
func (g *Graph) MustMermaid() string {
	src, err := g.Mermaid()
	if err != nil {
		panic("odbackup bug: drawing an inconsistent diagram: " + err.Error())
	}
	return src
}
