// Package diagram owns the flowcharts of odbackup's documents: a neutral
// graph model (nodes, groups of nodes, edges, named styles) that the
// emitters build, written out as Mermaid for the Markdown documents (GitLab
// and GitHub draw it themselves), read back from that Mermaid, and drawn as
// inline SVG for the HTML export, at export time, by D2 used as a library.
//
// It must not do I/O, load anything from the network or depend on the clock,
// map order or the number of CPUs: the same graph gives the same bytes.
package diagram

import (
	"fmt"
	"slices"
)

// Direction is the way a flowchart (or a group in it) runs.
type Direction string

// The directions a flowchart runs in.
const (
	Right Direction = "LR" // left to right
	Down  Direction = "TD" // top to bottom
)

// Graph is one flowchart. Order matters: nodes, groups and edges are
// written and laid out in the order they were added.
type Graph struct {
	Direction Direction
	Styles    []Style
	Groups    []Group
	Nodes     []Node
	Edges     []Edge
}

// Style is a named look for nodes, by status for example.
type Style struct {
	Name   string
	Fill   string // CSS colour, e.g. #c8e6c9
	Stroke string
	Text   string
	Dashed bool // a dashed border
}

// Group is a labelled box around nodes.
type Group struct {
	ID, Label string
	Direction Direction // the way the nodes inside run
}

// Node is a box. Its label may have several lines, separated by "\n".
type Node struct {
	ID, Label string
	Group     string // the group it is drawn in, or ""
	Style     string // a Style's name, or ""
}

// Edge is an arrow between two nodes or two groups.
type Edge struct {
	From, To string
}

// New starts a flowchart running in direction d.
func New(d Direction) *Graph { return &Graph{Direction: d} }

// AddStyle adds a named style.
func (g *Graph) AddStyle(s Style) { g.Styles = append(g.Styles, s) }

// AddGroup adds a group.
func (g *Graph) AddGroup(id, label string, d Direction) {
	g.Groups = append(g.Groups, Group{ID: id, Label: label, Direction: d})
}

// AddNode adds a node, in group (or at the top with "") and with style
// (or none with "").
func (g *Graph) AddNode(id, label, group, style string) {
	g.Nodes = append(g.Nodes, Node{ID: id, Label: label, Group: group, Style: style})
}

// AddEdge adds an arrow from one node or group to another.
func (g *Graph) AddEdge(from, to string) { g.Edges = append(g.Edges, Edge{From: from, To: to}) }

// Check reports the first inconsistency: a duplicate or invalid id, a
// reference to a group, style or node that does not exist. Mermaid and SVG
// are only written for graphs that pass.
func (g *Graph) Check() error {
	if g.Direction != Right && g.Direction != Down {
		return fmt.Errorf("direction %q is neither %s nor %s", g.Direction, Right, Down)
	}
	ids := map[string]string{}
	claim := func(id, what string) error {
		if !validID(id) {
			return fmt.Errorf("%s id %q: only ASCII letters, digits and _ are allowed", what, id)
		}
		if prev, ok := ids[id]; ok {
			return fmt.Errorf("%s id %q is already a %s", what, id, prev)
		}
		ids[id] = what
		return nil
	}
	var styles []string
	for _, s := range g.Styles {
		if !validID(s.Name) || slices.Contains(styles, s.Name) {
			return fmt.Errorf("style name %q is invalid or used twice", s.Name)
		}
		styles = append(styles, s.Name)
	}
	for _, gr := range g.Groups {
		if err := claim(gr.ID, "group"); err != nil {
			return err
		}
		if gr.Direction != Right && gr.Direction != Down {
			return fmt.Errorf("group %s: direction %q is neither %s nor %s", gr.ID, gr.Direction, Right, Down)
		}
	}
	for _, n := range g.Nodes {
		if err := claim(n.ID, "node"); err != nil {
			return err
		}
		if n.Group != "" && ids[n.Group] != "group" {
			return fmt.Errorf("node %s: no group %q", n.ID, n.Group)
		}
		if n.Style != "" && !slices.Contains(styles, n.Style) {
			return fmt.Errorf("node %s: no style %q", n.ID, n.Style)
		}
	}
	for _, e := range g.Edges {
		if ids[e.From] == "" || ids[e.To] == "" {
			return fmt.Errorf("edge %s --> %s: both ends must be nodes or groups", e.From, e.To)
		}
	}
	return nil
}

func validID(s string) bool {
	if s == "" || s == "end" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// group is the group of node or group id, "" at the top.
func (g *Graph) group(id string) string {
	for _, n := range g.Nodes {
		if n.ID == id {
			return n.Group
		}
	}
	return ""
}
