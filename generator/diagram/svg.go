package diagram

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing/fstest"

	"oss.terrastruct.com/d2/d2ast"
	"oss.terrastruct.com/d2/d2format"
	"oss.terrastruct.com/d2/d2graph"
	"oss.terrastruct.com/d2/d2layouts/d2dagrelayout"
	"oss.terrastruct.com/d2/d2lib"
	"oss.terrastruct.com/d2/d2renderers/d2svg"
	"oss.terrastruct.com/d2/d2themes/d2themescatalog"
	d2log "oss.terrastruct.com/d2/lib/log"
	"oss.terrastruct.com/d2/lib/textmeasure"
)

// SVG draws the graph as a standalone <svg> element for inline use in
// HTML: D2 lays it out with its dagre engine (JavaScript run by goja, a
// JavaScript interpreter written in Go) and renders it with the fonts it
// embeds, so nothing is loaded from anywhere and no browser is needed. The
// element has the diagram's natural width and height as attributes; pages
// scale it down with CSS on narrow screens.
func (g *Graph) SVG() ([]byte, error) {
	src, err := g.D2()
	if err != nil {
		return nil, err
	}
	// A ruler caches measurements and is not safe for concurrent use: one
	// per drawing keeps parallel exports independent of each other.
	ruler, err := textmeasure.NewRuler()
	if err != nil {
		return nil, fmt.Errorf("diagram: loading D2's fonts: %w", err)
	}
	yes, one, pad, theme := true, 1.0, int64(8), d2themescatalog.NeutralDefault.ID
	renderOpts := &d2svg.RenderOpts{Pad: &pad, ThemeID: &theme, Scale: &one, NoXMLTag: &yes, OmitVersion: &yes}
	compileOpts := &d2lib.CompileOptions{
		Ruler: ruler,
		// An empty file system: the D2 text has no imports, and a
		// drawing must never read the disk.
		FS: fstest.MapFS{},
		LayoutResolver: func(string) (d2graph.LayoutGraph, error) {
			return d2dagrelayout.DefaultLayout, nil
		},
	}
	// D2 logs its progress; a library call stays quiet.
	ctx := d2log.With(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	drawn, _, err := d2lib.Compile(ctx, src, compileOpts, renderOpts)
	if err != nil {
		return nil, fmt.Errorf("diagram: laying out: %w", err)
	}
	svg, err := d2svg.Render(drawn, renderOpts)
	if err != nil {
		return nil, fmt.Errorf("diagram: rendering: %w", err)
	}
	return svg, nil
}

// D2 writes the graph as D2 source: an AST built here, printed by D2's own
// formatter (which quotes and escapes every label and id).
func (g *Graph) D2() (string, error) {
	if err := g.Check(); err != nil {
		return "", err
	}
	// D2's formatter lays maps out by their source positions: a file map
	// starts at 0:0, a block spans more than one line.
	root := &d2ast.Map{Range: d2ast.Range{End: d2ast.Position{Line: 1}}}
	block := func() *d2ast.Map {
		return &d2ast.Map{Range: d2ast.Range{Start: d2ast.Position{Line: 1, Column: 1}, End: d2ast.Position{Line: 2}}}
	}
	add := func(m *d2ast.Map, k *d2ast.Key) { m.Nodes = append(m.Nodes, d2ast.MakeMapNodeBox(k)) }
	field := func(path []string, value string) *d2ast.Key {
		return &d2ast.Key{Key: d2ast.MakeKeyPath(path), Value: d2ast.MakeValueBox(d2ast.RawString(value, false))}
	}
	add(root, field([]string{"direction"}, d2Direction(g.Direction)))
	styled := func(m *d2ast.Map, name string) {
		for _, s := range g.Styles {
			if s.Name != name {
				continue
			}
			for _, p := range [][2]string{{"fill", s.Fill}, {"stroke", s.Stroke}, {"font-color", s.Text}} {
				if p[1] != "" {
					add(m, field([]string{"style", p[0]}, p[1]))
				}
			}
			if s.Dashed {
				add(m, field([]string{"style", "stroke-dash"}, "4"))
			}
		}
	}
	path := func(id string) []string {
		if gr := g.group(id); gr != "" {
			return []string{gr, id}
		}
		return []string{id}
	}
	groups := map[string]*d2ast.Map{}
	for _, gr := range g.Groups {
		body := block()
		add(body, field([]string{"direction"}, d2Direction(gr.Direction)))
		groups[gr.ID] = body
		add(root, &d2ast.Key{
			Key:     d2ast.MakeKeyPath([]string{gr.ID}),
			Primary: d2ast.MakeValueBox(d2ast.RawString(gr.Label, false)).ScalarBox(),
			Value:   d2ast.MakeValueBox(body),
		})
	}
	for _, n := range g.Nodes {
		parent := root
		if n.Group != "" {
			parent = groups[n.Group]
		}
		body := block()
		styled(body, n.Style)
		k := &d2ast.Key{
			Key:     d2ast.MakeKeyPath([]string{n.ID}),
			Primary: d2ast.MakeValueBox(d2ast.RawString(n.Label, false)).ScalarBox(),
		}
		if len(body.Nodes) > 0 {
			k.Value = d2ast.MakeValueBox(body)
		} else {
			k.Value = d2ast.MakeValueBox(d2ast.RawString(n.Label, false))
			k.Primary = d2ast.ScalarBox{}
		}
		add(parent, k)
	}
	for _, e := range g.Edges {
		add(root, &d2ast.Key{Edges: []*d2ast.Edge{{Src: d2ast.MakeKeyPath(path(e.From)), Dst: d2ast.MakeKeyPath(path(e.To)), DstArrow: ">"}}})
	}
	return d2format.Format(root), nil
}

func d2Direction(d Direction) string {
	if d == Down {
		return "down"
	}
	return "right"
}
