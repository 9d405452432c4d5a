package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/odbackup/odbackup/generator/docsite"
)

func TestParseDocsArgs(t *testing.T) {
	o, err := parseDocsArgs([]string{"a.cue", "b.cue", "-o", "site", "--format", "markdown"})
	if err != nil || o.output != "site" || o.format != docsite.DocMarkdown || len(o.policies) != 2 {
		t.Fatalf("got %+v, %v", o, err)
	}
	if o, err := parseDocsArgs([]string{"a.cue", "--output=site"}); err != nil || o.format != docsite.DocHTML {
		t.Fatalf("html is the default: got %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-o", "site"},
		{"a.cue"},
		{"a.cue", "-o", "site", "--format", "pdf"},
		{"a.cue", "-o", "site", "--jobs", "0"},
		{"a.cue", "-o", "site", "--nope"},
	} {
		_, err := parseDocsArgs(args)
		var usage *usageError
		if !errors.As(err, &usage) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
	if _, err := parseDocsArgs([]string{"--help"}); !errors.Is(err, errHelp) {
		t.Errorf("--help: got %v", err)
	}
}

// TestDocsExitCodes: usage errors exit 2, an invalid policy 1 (and nothing
// is written), success 0.
func TestDocsExitCodes(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "docs", "../../examples/ce-school/site.cue"); code != exitUsage {
		t.Errorf("no -o: exit %d (%s), want %d", code, stderr, exitUsage)
	}
	bad := filepath.Join(dir, "bad.cue")
	if err := os.WriteFile(bad, []byte("site: \"bad\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, "docs", bad, "-o", filepath.Join(dir, "out")); code != exitProblem {
		t.Errorf("invalid policy: exit %d, want %d", code, exitProblem)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("an invalid policy wrote %s: %v", filepath.Join(dir, "out"), err)
	}
	if code, _, stderr := runCLI(t, "docs", "../../examples/ce-school/site.cue", "-o", filepath.Join(dir, "out")); code != exitOK {
		t.Errorf("exit %d: %s", code, stderr)
	}
}

// exportDocs exports every example as HTML on procs processors.
func exportDocs(t *testing.T, procs int, format string) string {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	dir := t.TempDir()
	args := append([]string{"docs", "-o", dir, "--format", format, "--jobs", strconv.Itoa(procs)}, examplePolicies(t)...)
	if code, _, stderr := runCLI(t, args...); code != exitOK {
		t.Fatalf("docs failed: %s", stderr)
	}
	return dir
}

// TestDocsExport exports the examples once (drawing their diagrams takes
// a few seconds) and checks the export in subtests.
func TestDocsExport(t *testing.T) {
	site := exportDocs(t, 1, "html")
	t.Run("Deterministic", func(t *testing.T) { docsDeterministic(t, site) })
	t.Run("NothingFromOtherHosts", func(t *testing.T) { docsLoadNothingFromOtherHosts(t, site) })
}

// docsDeterministic exports the examples again, concurrently on several
// processors, and compares every byte with the export made sequentially
// on one: the diagrams are laid out and drawn the same way every time.
func docsDeterministic(t *testing.T, a string) {
	b := exportDocs(t, 4, "html")
	if files := sameFiles(t, a, b); files < 40 {
		t.Fatalf("compared %d files", files)
	}
}

// docsLoadNothingFromOtherHosts reads every page of the examples'
// export: no script, no stylesheet link, and every address a page could
// load or link to (src, href, xlink:href, srcset, action, data, poster,
// CSS url() and @import) is relative, a fragment or a data: URL. Pages
// whose Markdown has a Mermaid diagram have as many inline SVG drawings.
func docsLoadNothingFromOtherHosts(t *testing.T, dir string) {
	pages := eachFile(t, dir, ".html", func(rel string, page []byte) {
		for _, problem := range foreignLoads(page) {
			t.Errorf("%s: %s", rel, problem)
		}
	})
	if pages < 40 {
		t.Fatalf("read %d pages", pages)
	}
	diagrams := 0
	eachFile(t, exportDocs(t, 1, "markdown"), ".md", func(rel string, src []byte) {
		page, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(rel, ".md")+".html"))
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Count(src, []byte("```mermaid\n"))
		if got := bytes.Count(page, []byte(`<figure class="diagram"><svg `)); got != want {
			t.Errorf("%s: %d inline SVG diagrams, want %d (its Markdown has %d Mermaid blocks)", rel, got, want, want)
		}
		diagrams += want
	})
	if diagrams < 40 {
		t.Fatalf("checked %d diagrams", diagrams)
	}
}

// eachFile calls fn with every file under dir whose name ends in suffix,
// by its path relative to dir, and returns how many there were.
func eachFile(t *testing.T, dir, suffix string, fn func(rel string, data []byte)) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, suffix) {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fn(rel, data)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sameFiles reports every file of a that b lacks or has with other bytes,
// and returns how many files a has.
func sameFiles(t *testing.T, a, b string) int {
	t.Helper()
	return eachFile(t, a, "", func(rel string, x []byte) {
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between %s and %s", rel, a, b)
		}
	})
}

// cssURL finds what CSS would load: url(...) and @import.
var cssURL = regexp.MustCompile(`(?i)url\(\s*['"]?([^'")\s]*)|@import\s+(?:url\()?\s*['"]?([^'");\s]*)`)

// foreignLoads lists what in an HTML page points at another host or runs
// code: a script, a stylesheet link, or an address that is not relative,
// a fragment or a data: URL.
func foreignLoads(page []byte) []string {
	var problems []string
	check := func(where, addr string) {
		a := strings.TrimSpace(strings.ToLower(addr))
		if strings.HasPrefix(a, "data:") || strings.HasPrefix(a, "#") {
			return
		}
		if strings.HasPrefix(a, "//") || strings.Contains(strings.SplitN(a, "/", 2)[0], ":") {
			problems = append(problems, where+" points at "+addr)
		}
	}
	css := func(where, text string) {
		for _, m := range cssURL.FindAllStringSubmatch(text, -1) {
			if strings.HasPrefix(strings.ToLower(m[0]), "@import") {
				problems = append(problems, where+" has "+m[0])
				continue
			}
			check(where+" url()", m[1])
		}
	}
	z := html.NewTokenizer(bytes.NewReader(page))
	inStyle := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				problems = append(problems, "unreadable HTML: "+z.Err().Error())
			}
			return problems
		case html.TextToken:
			if inStyle {
				css("<style>", string(z.Text()))
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "style" {
				inStyle = false
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			switch t.Data {
			case "script", "link", "iframe", "object", "embed", "base":
				problems = append(problems, "has a <"+t.Data+">")
			case "style":
				inStyle = true
			}
			for _, a := range t.Attr {
				key := strings.ToLower(a.Key)
				if a.Namespace != "" {
					key = a.Namespace + ":" + key
				}
				switch {
				case key == "style":
					css("<"+t.Data+" style>", a.Val)
				case key == "srcset":
					for _, c := range strings.Split(a.Val, ",") {
						check("<"+t.Data+" srcset>", strings.Fields(c + " ")[0])
					}
				case key == "src", key == "action", key == "data", key == "poster", key == "formaction", strings.HasSuffix(key, "href"):
					check("<"+t.Data+" "+key+">", a.Val)
				}
			}
		}
	}
}

func TestForeignLoads(t *testing.T) {
	clean := `<html><head><style>@font-face{src:url("data:font/woff;base64,AA")}</style></head><body>
<a href="runbooks/a.html#x">a</a><a href="#top">t</a><svg xmlns="http://www.w3.org/2000/svg"><use xlink:href="#m"/><rect fill="url(#g)"/></svg></body></html>`
	if p := foreignLoads([]byte(clean)); len(p) != 0 {
		t.Errorf("a clean page flagged: %v", p)
	}
	for _, bad := range []string{
		`<script type="module">import m from "x"</script>`,
		`<img src="https://cdn.example/x.png">`,
		`<a href="//cdn.example/x">x</a>`,
		`<link rel="stylesheet" href="x.css">`,
		`<style>@import "https://fonts.example/x.css";</style>`,
		`<style>body{background:url(https://x.example/b.png)}</style>`,
		`<div style="background:url('http://x.example/b.png')"></div>`,
		`<svg><image xlink:href="https://x.example/i.png"/></svg>`,
		`<img srcset="a.png 1x, https://x.example/b.png 2x">`,
	} {
		if p := foreignLoads([]byte(bad)); len(p) == 0 {
			t.Errorf("not flagged: %s", bad)
		}
	}
}
