// Package browser opens the HTML export of `odbackup docs` in a real
// browser, headless Chromium (the Debian package chromium), driven over the
// DevTools protocol. It needs no server, so it lives apart from the e2e
// harness; like the rest of ./e2e/... it runs only with ODBACKUP_E2E set,
// which `make e2e` does (and installs chromium). Run it alone with
//
//	ODBACKUP_E2E=1 go test -v ./e2e/browser/
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// policy is the example with the most apps, documents and diagrams.
const policy = "../../examples/ee-full/site.cue"

// requests records every request the browser made that was not for a
// local file (file:, data:): each one is blocked, and any one fails the test.
type requests struct {
	mu      sync.Mutex
	foreign []string
	local   int
}

func (r *requests) add(url string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.HasPrefix(url, "file:") || strings.HasPrefix(url, "data:") {
		r.local++
		return true
	}
	if !slices.Contains(r.foreign, url) {
		r.foreign = append(r.foreign, url)
	}
	return false
}

func (r *requests) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.foreign
	r.foreign = nil
	return f
}

// layout is what a page looks like to the browser.
type layout struct {
	ScrollWidth int  `json:"scrollWidth"` // of the document
	InnerWidth  int  `json:"innerWidth"`  // of the window
	Diagrams    int  `json:"diagrams"`    // figure.diagram > svg
	Drawn       int  `json:"drawn"`       // of them: laid out, with text
	Unrendered  int  `json:"unrendered"`  // pre.mermaid left for a script
	NavWraps    bool `json:"navWraps"`    // the navigation is a wrapping flex list
	CutPre      int  `json:"cutPre"`      // <pre> wider than its box (printed: cut off)
}

const measure = `(() => {
	const svgs = [...document.querySelectorAll("figure.diagram > svg")];
	const nav = document.querySelector("nav ul");
	return {
		scrollWidth: document.documentElement.scrollWidth,
		innerWidth: window.innerWidth,
		diagrams: svgs.length,
		drawn: svgs.filter(s => s.getBoundingClientRect().width > 0 && s.querySelectorAll("text").length > 0).length,
		unrendered: document.querySelectorAll("pre.mermaid").length,
		navWraps: !!nav && getComputedStyle(nav).flexWrap === "wrap",
		cutPre: [...document.querySelectorAll("pre")].filter(p => p.scrollWidth > p.clientWidth + 1).length,
	};
})()`

func TestDocsInChromium(t *testing.T) {
	if os.Getenv("ODBACKUP_E2E") == "" {
		t.Skip("set ODBACKUP_E2E=1 (make e2e does) to open the docs in Chromium")
	}
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not installed (e2e/scripts/ensure-packages.sh chromium): %v", err)
	}
	work := t.TempDir()
	site := exportDocs(t, work, "html")
	md := exportDocs(t, work, "markdown")
	artifacts := artifactDir(t)

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A second wall behind the interception below: no host name
		// resolves, so a request that slipped past could not leave either.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
		chromedp.UserDataDir(filepath.Join(work, "profile")),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	// Every request of the page is paused; those for local files go on,
	// every other is recorded and failed as blocked by the client. The
	// network domain reports requests too, including any the Fetch domain
	// would not pause.
	var seen requests
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *fetch.EventRequestPaused:
			id, local := ev.RequestID, seen.add(ev.Request.URL)
			go func() {
				if local {
					_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id})
				} else {
					_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: id, ErrorReason: network.ErrorReasonBlockedByClient})
				}
			}()
		case *network.EventRequestWillBeSent:
			seen.add(ev.Request.URL)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatal(err)
	}

	// The control: a page that does load from another host is caught, so
	// an empty record below means nothing was requested, not that nothing
	// was watched.
	control := filepath.Join(work, "control.html")
	if err := os.WriteFile(control, []byte(`<!DOCTYPE html><img src="https://odbackup-control.invalid/x.png"><script src="https://cdn.odbackup-control.invalid/m.js"></script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+control)); err != nil {
		t.Fatal(err)
	}
	if got := seen.take(); len(got) != 2 {
		t.Fatalf("the control page's two requests to other hosts were not both caught: %v", got)
	}

	pages := htmlPages(t, site)
	for _, width := range []int64{1280, 390} {
		opts := []chromedp.EmulateViewportOption{}
		if width < 600 {
			opts = append(opts, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900, opts...)); err != nil {
			t.Fatal(err)
		}
		for _, rel := range pages {
			if err := chromedp.Do(ctx, chromedp.Navigate("file://"+filepath.Join(site, rel))); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			l, err := chromedp.Run(ctx, chromedp.Evaluate[layout](measure))
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			want := mermaidBlocks(t, md, rel)
			if l.Diagrams != want || l.Drawn != want || l.Unrendered != 0 {
				t.Errorf("%s at %d px: %d SVG diagrams, %d drawn with text, %d left as Mermaid source; its Markdown has %d", rel, width, l.Diagrams, l.Drawn, l.Unrendered, want)
			}
			if l.ScrollWidth > l.InnerWidth {
				t.Errorf("%s at %d px: the page is %d px wide, wider than the window (%d px)", rel, width, l.ScrollWidth, l.InnerWidth)
			}
			if !l.NavWraps {
				t.Errorf("%s: no wrapping navigation", rel)
			}
			if got := seen.take(); len(got) > 0 {
				t.Errorf("%s at %d px: requests outside file:// (all blocked): %v", rel, width, got)
			}
			if rel == "index.html" || rel == "runbooks/nextcloud.html" {
				shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%s-%d.png", strings.NewReplacer("/", "-", ".html", "").Replace(rel), width)
				if err := os.WriteFile(filepath.Join(artifacts, name), shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	// Printed (print media, A4 width at 96 dpi less the margins), a runbook
	// cuts off no command: every <pre> fits its box.
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(700, 1000)); err != nil {
		t.Fatal(err)
	}
	for _, rel := range pages {
		if err := chromedp.Do(ctx, chromedp.Navigate("file://"+filepath.Join(site, rel))); err != nil {
			t.Fatal(err)
		}
		l, err := chromedp.Run(ctx, chromedp.Evaluate[layout](measure))
		if err != nil {
			t.Fatal(err)
		}
		if l.CutPre > 0 || l.ScrollWidth > l.InnerWidth {
			t.Errorf("%s printed: %d code blocks cut off, page %d px wide for %d px", rel, l.CutPre, l.ScrollWidth, l.InnerWidth)
		}
		if rel == "runbooks/nextcloud.html" {
			pdf, err := chromedp.Call(ctx, page.PrintToPDF, page.PrintToPDFParams{})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(artifacts, "runbooks-nextcloud.pdf"), pdf.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := seen.take(); len(got) > 0 {
		t.Errorf("requests outside file:// while printing (all blocked): %v", got)
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if seen.local < len(pages) {
		t.Errorf("saw %d local requests for %d pages: the recording missed the pages themselves", seen.local, len(pages))
	}
}

// artifactDir is where the screenshots and the printed runbook go:
// $ODBACKUP_E2E_DIR/browser under make e2e (kept after the run with the
// servers' logs, replaced by the next run), else a new temporary folder.
// The test prints it; nothing there is committed.
func artifactDir(t *testing.T) string {
	t.Helper()
	var dir string
	if e2e := os.Getenv("ODBACKUP_E2E_DIR"); e2e != "" {
		dir = filepath.Join(e2e, "browser")
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		var err error
		if dir, err = os.MkdirTemp("", "odbackup-docs-browser-"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots and the printed runbook: %s", dir)
	fmt.Fprintf(os.Stderr, "browser test: screenshots and the printed runbook in %s\n", dir)
	return dir
}

// exportDocs runs odbackup docs on the example into work/format.
func exportDocs(t *testing.T, work, format string) string {
	t.Helper()
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	out := filepath.Join(work, format)
	cmd := exec.Command(goTool, "run", "../../cmd/odbackup", "docs", policy, "-o", out, "--format", format)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("odbackup docs --format %s: %v\n%s", format, err, b)
	}
	dirs, err := os.ReadDir(out)
	if err != nil || len(dirs) != 1 {
		t.Fatalf("want one site in %s: %v", out, err)
	}
	return filepath.Join(out, dirs[0].Name())
}

// htmlPages are the pages of the export, relative to its folder.
func htmlPages(t *testing.T, site string) []string {
	t.Helper()
	var pages []string
	err := filepath.WalkDir(site, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".html") {
			rel, _ := filepath.Rel(site, p)
			pages = append(pages, rel)
		}
		return err
	})
	if err != nil || len(pages) < 10 || !slices.Contains(pages, "index.html") || !slices.Contains(pages, "runbooks/nextcloud.html") {
		t.Fatalf("pages %v: %v", pages, err)
	}
	return pages
}

// mermaidBlocks counts the diagrams of a page's Markdown document.
func mermaidBlocks(t *testing.T, md, page string) int {
	t.Helper()
	if page == "index.html" {
		return 0
	}
	src, err := os.ReadFile(filepath.Join(md, strings.TrimSuffix(page, ".html")+".md"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(src), "```mermaid\n")
}
