package docsite

import (
	"bytes"
	"fmt"
	"html"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/diagram"
)

// DocFormat is what `odbackup docs` writes.
type DocFormat string

// The formats of `odbackup docs`.
const (
	// DocHTML is a static site: one page per Markdown document and an
	// index with navigation.
	DocHTML DocFormat = "html"
	// DocMarkdown is the Markdown documents as odbackup build writes them,
	// for teams that publish Markdown themselves.
	DocMarkdown DocFormat = "markdown"
)

// DocSite exports the Markdown documents of a site's generated tree (the
// runbooks, the coverage report: every .md file) with the files they link
// to (the restore Jobs), so the links keep working. With DocHTML every
// document becomes an HTML page and index.html lists them all.
func DocSite(tree generator.Tree, site string, format DocFormat) (generator.Tree, error) {
	var docs []string
	for _, p := range tree.Paths() {
		if strings.HasSuffix(p, ".md") {
			docs = append(docs, p)
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("site %s has no Markdown documents to export", site)
	}
	out := generator.Tree{}
	for _, p := range linkedFiles(tree, docs) {
		if err := out.Add(p, tree[p]); err != nil {
			return nil, err
		}
	}
	if format == DocMarkdown {
		for _, p := range docs {
			if err := out.Add(p, tree[p]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	pages := make([]page, len(docs))
	for i, p := range docs {
		pages[i] = page{path: strings.TrimSuffix(p, ".md") + ".html", title: markdownTitle(tree[p], p)}
	}
	slices.SortStableFunc(pages, func(a, b page) int { return pageRank(a.path) - pageRank(b.path) })
	md := newMarkdownRenderer()
	for _, p := range docs {
		var body bytes.Buffer
		if err := md.Convert(tree[p], &body); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", p, err)
		}
		target := strings.TrimSuffix(p, ".md") + ".html"
		title := markdownTitle(tree[p], p)
		if err := out.Add(target, htmlPage(site, title, target, pages, body.Bytes())); err != nil {
			return nil, err
		}
	}
	if err := out.Add("index.html", indexPage(site, pages)); err != nil {
		return nil, err
	}
	return out, nil
}

// page is one exported document.
type page struct {
	path, title string
}

// pageRank puts the site-wide runbook first, then the coverage report,
// then the app runbooks, each group in path order (stable sort).
func pageRank(p string) int {
	switch {
	case p == "runbooks/README.html":
		return 0
	case !strings.HasPrefix(p, "runbooks/"):
		return 1
	}
	return 2
}

var mdLink = regexp.MustCompile(`\]\(([^)#\s]+)(?:#[^)\s]*)?\)`)

// linkedFiles are the files of the tree that the documents link to, other
// than the documents themselves.
func linkedFiles(tree generator.Tree, docs []string) []string {
	var out []string
	for _, d := range docs {
		for _, m := range mdLink.FindAllStringSubmatch(string(tree[d]), -1) {
			target := path.Clean(path.Join(path.Dir(d), m[1]))
			if _, ok := tree[target]; ok && !strings.HasSuffix(target, ".md") && !slices.Contains(out, target) {
				out = append(out, target)
			}
		}
	}
	slices.Sort(out)
	return out
}

// markdownTitle is a document's first level-1 heading, or its path.
func markdownTitle(src []byte, p string) string {
	for _, line := range strings.Split(string(src), "\n") {
		if t, ok := strings.CutPrefix(line, "# "); ok {
			return strings.TrimSpace(strings.ReplaceAll(t, "`", ""))
		}
	}
	return p
}

// newMarkdownRenderer renders GitHub Flavored Markdown (tables above all)
// with GitHub-like heading ids, links between documents pointing at their
// HTML pages, and Mermaid diagrams drawn as inline SVG.
func newMarkdownRenderer() goldmark.Markdown {
	return goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithParserOptions(
			parser.WithAutoHeadingID(),
			parser.WithASTTransformers(util.Prioritized(htmlLinks{}, 100)),
		),
		goldmark.WithRendererOptions(
			renderer.WithNodeRenderers(util.Prioritized(codeBlocks{}, 100)),
		),
	)
}

// htmlLinks points relative links to .md documents at their .html pages.
type htmlLinks struct{}

func (htmlLinks) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if l, ok := n.(*ast.Link); ok && entering {
			dest := string(l.Destination)
			file, anchor, _ := strings.Cut(dest, "#")
			if !strings.Contains(file, ":") && strings.HasSuffix(file, ".md") {
				dest = strings.TrimSuffix(file, ".md") + ".html"
				if anchor != "" {
					dest += "#" + anchor
				}
				l.Destination = []byte(dest)
			}
		}
		return ast.WalkContinue, nil
	})
}

// codeBlocks renders fenced code blocks as goldmark does, except Mermaid
// diagrams, which are drawn here, at export time, as inline SVG: the pages
// load nothing, from anywhere, and print as they show.
type codeBlocks struct{}

func (codeBlocks) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, func(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		n := node.(*ast.FencedCodeBlock)
		lang := string(n.Language(source))
		var body strings.Builder
		for i := 0; i < n.Lines().Len(); i++ {
			line := n.Lines().At(i)
			body.Write(line.Value(source))
		}
		switch lang {
		case "mermaid":
			svg, err := diagram.MermaidSVG(body.String())
			if err != nil {
				return ast.WalkStop, fmt.Errorf("drawing a diagram: %w", err)
			}
			fmt.Fprintf(w, "<figure class=\"diagram\">%s</figure>\n", svg)
		case "":
			fmt.Fprintf(w, "<pre><code>%s</code></pre>\n", html.EscapeString(body.String()))
		default:
			fmt.Fprintf(w, "<pre><code class=\"language-%s\">%s</code></pre>\n", html.EscapeString(lang), html.EscapeString(body.String()))
		}
		return ast.WalkSkipChildren, nil
	})
}

// relPath is the link from page from to target, both tree paths.
func relPath(from, target string) string {
	up := strings.Count(from, "/")
	return strings.Repeat("../", up) + target
}

// pageStyle: readable from phone to desktop (wide tables, code and
// diagrams scroll inside the page, never the page itself; on a desktop a
// wide diagram shrinks to fit, on a phone it keeps its size and scrolls, or
// its labels would be too small to read) and on
// paper, where runbooks go for the day the cluster and this site are down:
// no navigation, commands wrapped instead of cut off and kept on one page,
// tables at full width with their header repeated.
const pageStyle = `body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;line-height:1.5;margin:0;color:#1f2328}
nav{background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:.6em 1.2em;font-size:.9em}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25em 1.2em}
nav li{min-width:0;overflow-wrap:anywhere}
main{max-width:72em;margin:0 auto;padding:1em 1.2em 3em;overflow-wrap:break-word}
table{border-collapse:collapse;margin:1em 0;display:block;max-width:100%;overflow-x:auto}
th,td{border:1px solid #d0d7de;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}
code{background:#eff1f3;padding:.1em .3em;border-radius:4px;font-size:.9em}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;border-radius:6px}
pre code{background:none;padding:0}
figure.diagram{margin:1em 0;max-width:100%;overflow-x:auto}
figure.diagram svg{display:block;max-width:100%;height:auto}
blockquote{margin:1em 0;padding:0 1em;color:#59636e;border-left:.25em solid #d0d7de}
@media (max-width:40em){nav{padding:.5em .8em}main{padding:.8em .8em 2em}h1{font-size:1.5em}figure.diagram svg{max-width:none}}
@media print{
nav{display:none}
body{font-size:10.5pt}
main{max-width:none;margin:0;padding:0}
a{color:inherit}
h1,h2,h3,h4{break-after:avoid}
pre{white-space:pre-wrap;overflow-wrap:anywhere;overflow:visible;break-inside:avoid;border:1px solid #d0d7de}
table{display:table;width:100%;overflow:visible;font-size:9pt}
thead{display:table-header-group}
tr,figure.diagram{break-inside:avoid}
td code,th code{overflow-wrap:anywhere}
figure.diagram{overflow:visible}
}`

// htmlPage wraps a rendered document in a page with the site's navigation.
func htmlPage(site, title, self string, pages []page, body []byte) []byte {
	var b bytes.Buffer
	htmlHead(&b, title+" · "+site)
	siteNav(&b, site, self, pages)
	b.WriteString("<main>\n")
	b.Write(body)
	b.WriteString("</main>\n</body>\n</html>\n")
	return b.Bytes()
}

// siteNav is the navigation of every page, the index included: a list, so
// it wraps on narrow screens; the current page is marked, not linked.
func siteNav(b *bytes.Buffer, site, self string, pages []page) {
	b.WriteString("<nav>\n<ul>\n")
	for _, p := range append([]page{{path: "index.html", title: site}}, pages...) {
		label := html.EscapeString(p.title)
		if p.path == self {
			b.WriteString("<li><strong aria-current=\"page\">" + label + "</strong></li>\n")
			continue
		}
		b.WriteString("<li><a href=\"" + relPath(self, p.path) + "\">" + label + "</a></li>\n")
	}
	b.WriteString("</ul>\n</nav>\n")
}

// indexPage lists every page of the site.
func indexPage(site string, pages []page) []byte {
	var b bytes.Buffer
	htmlHead(&b, site)
	siteNav(&b, site, "index.html", pages)
	b.WriteString("<main>\n<h1>" + html.EscapeString(site) + ": restore runbooks and backup coverage</h1>\n")
	b.WriteString("<p>Generated by odbackup from the site's policy. Start with the disaster-recovery order when more than one app lost data.</p>\n<ul>\n")
	for _, p := range pages {
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", p.path, html.EscapeString(p.title))
	}
	b.WriteString("</ul>\n</main>\n</body>\n</html>\n")
	return b.Bytes()
}

func htmlHead(b *bytes.Buffer, title string) {
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<title>" + html.EscapeString(title) + "</title>\n<style>\n" + pageStyle + "\n</style>\n</head>\n<body>\n")
}
