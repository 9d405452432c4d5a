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
		"runbooks/a.md":          []byte("# App\n\n```mermaid\nflowchart LR\n  a[\"x<y\"] --> b\n```\n\n```sh\necho '<b>'\n```\n\n<script>alert(1)</script>\n"),
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
	for _, s := range []string{`href="a.html#2-stop"`, `href="../restore/a/job.yaml"`, "<table>", `<title>Site s · s</title>`, `href="../index.html"`} {
		if !strings.Contains(readme, s) {
			t.Errorf("README.html lacks %s:\n%s", s, readme)
		}
	}
	for _, s := range []string{`<pre class="mermaid">flowchart LR`, `x&lt;y`, docsite.MermaidScript, `<code class="language-sh">echo &#39;&lt;b&gt;&#39;`, "<!-- raw HTML omitted -->"} {
		if !strings.Contains(app, s) {
			t.Errorf("a.html lacks %s:\n%s", s, app)
		}
	}
	if strings.Contains(readme, "mermaid.esm") || strings.Contains(app, "<script>alert") {
		t.Errorf("Mermaid is loaded only where there is a diagram, raw HTML never passes")
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
