package docsite_test

import (
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/docsite"
)

func TestDocSite(t *testing.T) {
	tree := generator.Tree{
		"kustomization.yaml":     []byte("resources: []\n"),
		"restore/a/job.yaml":     []byte("kind: Job\n"),
		"restore/a/unused.yaml":  []byte("kind: Job\n"),
		"runbooks/README.md":     []byte("# Site `s`\n\nSee [app](a.md#2-stop) and [the Job](../restore/a/job.yaml).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"),
		"runbooks/a.md":          []byte("# App\n\n```mermaid\nflowchart LR\n  a[\"x#lt;y\"]\n  b[\"b\"]\n  a --> b\n```\n\n```sh\necho '<b>'\n```\n\n<script>alert(1)</script>\n"),
		"coverage.md":            []byte("# Coverage\n"),
		"coverage.json":          []byte("{}\n"),
		"cronjobs/odbackup.yaml": []byte("kind: CronJob\n"),
	}
	site, err := docsite.DocSite(tree, "s", docsite.DocHTML)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"coverage.html", "index.html", "restore/a/job.yaml", "runbooks/README.html", "runbooks/a.html"}
	if got := site.Paths(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("paths %v, want %v", got, want)
	}
	readme, app := string(site["runbooks/README.html"]), string(site["runbooks/a.html"])
	for _, s := range []string{`href="a.html#2-stop"`, `href="../restore/a/job.yaml"`, "<table>", `<title>Site s · s</title>`, `<li><a href="../index.html">s</a></li>`, `<li><strong aria-current="page">Site s</strong></li>`, `<li><a href="../runbooks/a.html">App</a></li>`} {
		if !strings.Contains(readme, s) {
			t.Errorf("README.html lacks %s:\n%s", s, readme)
		}
	}
	for _, s := range []string{`<figure class="diagram"><svg `, `x&lt;y`, `<code class="language-sh">echo &#39;&lt;b&gt;&#39;`, "<!-- raw HTML omitted -->"} {
		if !strings.Contains(app, s) {
			t.Errorf("a.html lacks %s:\n%s", s, app)
		}
	}
	if strings.Contains(readme, "<svg") || strings.Contains(app, "mermaid") || strings.Contains(app, "<script") {
		t.Errorf("a diagram is drawn only where there is one, as SVG; raw HTML and scripts never pass")
	}
	index := string(site["index.html"])
	for _, s := range []string{`<li><strong aria-current="page">s</strong></li>`, `<li><a href="runbooks/README.html">Site s</a></li>`, `<li><a href="coverage.html">Coverage</a></li>`} {
		if !strings.Contains(index, s) {
			t.Errorf("index.html lacks its navigation entry %s:\n%s", s, index)
		}
	}
	tree["runbooks/a.md"] = []byte("# App\n\n```mermaid\nsequenceDiagram\n  a->>b: hi\n```\n")
	if _, err := docsite.DocSite(tree, "s", docsite.DocHTML); err == nil || !strings.Contains(err.Error(), "runbooks/a.md") || !strings.Contains(err.Error(), "mermaid line 1") {
		t.Errorf("a diagram that cannot be drawn: got %v, want an error naming the document and line", err)
	}
	md, err := docsite.DocSite(tree, "s", docsite.DocMarkdown)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(md.Paths(), " "); got != "coverage.md restore/a/job.yaml runbooks/README.md runbooks/a.md" {
		t.Errorf("markdown export %s", got)
	}
	if _, err := docsite.DocSite(generator.Tree{"a.yaml": nil}, "s", docsite.DocHTML); err == nil {
		t.Error("a tree without documents exported nothing without complaint")
	}
}
