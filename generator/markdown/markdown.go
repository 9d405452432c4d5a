// Package markdown writes documents that render the same on GitLab and
// GitHub (ATX headings, pipe tables, fenced code, Mermaid diagrams, no raw
// HTML): the runbooks and the kinds' sections of them. It only builds
// bytes: no I/O.
package markdown

import (
	"fmt"
	"strings"

	"github.com/odbackup/odbackup/generator/diagram"
)

// Doc builds a document that renders the same on GitLab and GitHub:
// ATX headings, pipe tables, fenced code blocks and Mermaid diagrams, no
// raw HTML. Blocks are separated by one blank line.
type Doc struct {
	b strings.Builder
}

func (m *Doc) block(s string) {
	if m.b.Len() > 0 {
		m.b.WriteString("\n")
	}
	m.b.WriteString(strings.TrimRight(s, "\n"))
	m.b.WriteString("\n")
}

// Heading writes a heading of the level; format and args as for fmt.Sprintf.
func (m *Doc) Heading(level int, format string, args ...any) {
	m.block(strings.Repeat("#", level) + " " + fmt.Sprintf(format, args...))
}

// Para writes a paragraph; format and args as for fmt.Sprintf.
func (m *Doc) Para(format string, args ...any) {
	m.block(fmt.Sprintf(format, args...))
}

// List writes a bullet list.
func (m *Doc) List(items ...string) {
	if len(items) == 0 {
		return
	}
	var b strings.Builder
	for _, it := range items {
		b.WriteString("- " + indentContinuation(it, "  ") + "\n")
	}
	m.block(b.String())
}

// Numbered writes a numbered list.
func (m *Doc) Numbered(items ...string) {
	var b strings.Builder
	for i, it := range items {
		prefix := fmt.Sprintf("%d. ", i+1)
		b.WriteString(prefix + indentContinuation(it, strings.Repeat(" ", len(prefix))) + "\n")
	}
	m.block(b.String())
}

// indentContinuation indents every line of an item after its first, but
// an empty line (a block's separator), which gets no trailing blanks.
func indentContinuation(s, indent string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" {
			lines[i] = indent + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// CodeBlock writes a fenced code block; the fence is longer than any backtick
// run inside.
func (m *Doc) CodeBlock(lang, text string) {
	fence := "```"
	for strings.Contains(text, fence) {
		fence += "`"
	}
	m.block(fence + lang + "\n" + strings.TrimRight(text, "\n") + "\n" + fence)
}

// Diagram writes a flowchart as a Mermaid block, which GitLab and GitHub
// draw; odbackup docs reads it back and draws it as SVG.
func (m *Doc) Diagram(g *diagram.Graph) {
	m.CodeBlock("mermaid", mustMermaid(g))
}

// mustMermaid is g as Mermaid. The emitters build their graphs from ids
// MermaidID made and from the catalog, so an inconsistent graph is a bug in
// odbackup, not bad input.
func mustMermaid(g *diagram.Graph) string { return g.MustMermaid() }

// Note writes a blockquote.
func (m *Doc) Note(format string, args ...any) {
	m.block("> " + strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "\n> "))
}

// Table writes a pipe table; cells are escaped for it.
func (m *Doc) Table(head []string, rows [][]string) {
	var b strings.Builder
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + TableCell(c) + " |")
		}
		b.WriteString("\n")
	}
	row(head)
	b.WriteString("|")
	for range head {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		row(r)
	}
	m.block(b.String())
}

// Bytes is the document so far.
func (m *Doc) Bytes() []byte { return []byte(m.b.String()) }

// TableCell keeps a cell on one line and its pipes from ending it (also
// inside code spans, where GitLab and GitHub both honour \|).
func TableCell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// Code returns s as an inline code span.
func Code(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// Link returns a Markdown link.
func Link(text, target string) string { return "[" + text + "](" + target + ")" }

// MermaidID makes a Mermaid node id from any string.
func MermaidID(prefix, s string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	return b.String()
}
