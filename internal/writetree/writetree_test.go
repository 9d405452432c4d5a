package writetree

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestWriteReplacesFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out", "site")
	if err := Write(out, map[string][]byte{"a.yaml": []byte("a\n"), "sub/b.yaml": []byte("b\n")}); err != nil {
		t.Fatal(err)
	}
	if err := Write(out, map[string][]byte{"a.yaml": []byte("A\n")}); err != nil {
		t.Fatal(err)
	}
	got := readTree(t, out)
	if len(got) != 1 || got["a.yaml"] != "A\n" {
		t.Fatalf("after the second write: %v", got)
	}
	// Nothing of the temporary folders is left next to the output.
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Fatalf("left behind next to the output: %v", entries)
	}
}

// TestFailedWriteLeavesFolder: a write that fails half-way (here a file
// and a folder of the same name) leaves the previous output untouched.
func TestFailedWriteLeavesFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site")
	before := map[string][]byte{"kustomization.yaml": []byte("old\n")}
	if err := Write(out, before); err != nil {
		t.Fatal(err)
	}
	broken := map[string][]byte{"a": []byte("file\n"), "a/b.yaml": []byte("under a file\n"), "kustomization.yaml": []byte("new\n")}
	if err := Write(out, broken); err == nil {
		t.Fatal("a tree with a file and a folder of the same name was written")
	}
	got := readTree(t, out)
	if len(got) != 1 || got["kustomization.yaml"] != "old\n" {
		t.Fatalf("the failed write changed the output: %v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Fatalf("left behind next to the output: %v", entries)
	}
}

func TestPathsStayInside(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"../x", "/etc/x", "a/../../x", ""} {
		if err := Write(filepath.Join(dir, "site"), map[string][]byte{p: nil}); err == nil {
			t.Errorf("path %q was written", p)
		}
	}
}

func TestDiff(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site")
	tree := map[string][]byte{"a.yaml": []byte("one\ntwo\n"), "b.yaml": []byte("b\n")}
	if d, err := Diff(out, "out/site", tree); err != nil || !strings.Contains(string(d), "--- /dev/null\n+++ b/out/site/a.yaml") {
		t.Fatalf("diff against a missing folder: %q, %v", d, err)
	}
	if err := Write(out, tree); err != nil {
		t.Fatal(err)
	}
	if d, err := Diff(out, "out/site", tree); err != nil || d != nil {
		t.Fatalf("diff of an up-to-date folder: %q, %v", d, err)
	}
	os.WriteFile(filepath.Join(out, "extra.yaml"), []byte("x\n"), 0o644)
	changed := map[string][]byte{"a.yaml": []byte("one\nTWO\n"), "b.yaml": []byte("b\n")}
	d, err := Diff(out, "out/site", changed)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-two\n+TWO\n", "--- a/out/site/extra.yaml\n+++ /dev/null\n"} {
		if !strings.Contains(string(d), want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(string(d), "b.yaml") {
		t.Errorf("diff names the unchanged b.yaml:\n%s", d)
	}
	// A file on disk that starts with what the tree wants and goes on, and
	// one that stops short of it, differ.
	prefixes := map[string][]byte{"a.yaml": []byte("one\n"), "b.yaml": []byte("b\nc\n"), "extra.yaml": []byte("x\n")}
	d, err = Diff(out, "out/site", prefixes)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" one\n-two\n", " b\n+c\n"} {
		if !strings.Contains(string(d), want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
}

// BenchmarkWrite writes a tree the size of a full site (80 files) and
// replaces it, as every build does.
func BenchmarkWrite(b *testing.B) {
	tree := map[string][]byte{}
	for i := range 80 {
		tree[filepath.Join("cronjobs", strings.Repeat("x", i%7+1), "f"+string(rune('a'+i%26))+".yaml")] = make([]byte, 6000)
	}
	dir := filepath.Join(b.TempDir(), "site")
	for b.Loop() {
		if err := Write(dir, tree); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteRemovesLeftovers: the temporary folders of builds that were
// killed half-way (their process is gone, or they predate process ids in
// the name) are removed by the next write; a running build's are not.
func TestWriteRemovesLeftovers(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "site")
	// 2^22 is above Linux's largest process id: never a running process.
	killed := filepath.Join(parent, ".site.tmp-4194305-123")
	older := filepath.Join(parent, ".site.tmp-987654321")
	running := filepath.Join(parent, fmt.Sprintf(".site.tmp-%d-456", os.Getppid()))
	other := filepath.Join(parent, ".other.tmp-4194305-789")
	for _, d := range []string{killed, older, running, other} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(out, map[string][]byte{"a.yaml": []byte("a\n")}); err != nil {
		t.Fatal(err)
	}
	var left []string
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{filepath.Base(other), filepath.Base(running), "site"}
	if !slices.Equal(left, want) {
		t.Fatalf("next to the output after a write: %v, want %v", left, want)
	}
}

// TestFolderRemovesLeftovers: a Folder lists its leftovers once, and its
// writes remove them as Write does, sub-folder by sub-folder (one whose
// name contains ".tmp-" too); another sub-folder's stay.
func TestFolderRemovesLeftovers(t *testing.T) {
	parent := t.TempDir()
	leftovers := []string{".a.tmp-4194305-1", ".a.tmp-b.tmp-4194305-2", ".c.tmp-4194305-3"}
	for _, d := range leftovers {
		if err := os.Mkdir(filepath.Join(parent, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{"a", "a.tmp-b"} {
		if err := f.Write(base, map[string][]byte{"f": []byte(base + "\n")}); err != nil {
			t.Fatal(err)
		}
	}
	var left []string
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{".c.tmp-4194305-3", "a", "a.tmp-b"}; !slices.Equal(left, want) {
		t.Fatalf("after writing a and a.tmp-b: %v, want %v", left, want)
	}
	if got := readTree(t, filepath.Join(parent, "a.tmp-b")); got["f"] != "a.tmp-b\n" {
		t.Fatalf("a.tmp-b holds %v", got)
	}
}

// TestWriteNeverMissing: while a site folder is replaced over and over, a
// reader never finds it missing (the swap is one atomic exchange).
func TestWriteNeverMissing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site")
	if err := Write(out, map[string][]byte{"a.yaml": []byte("0\n")}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	missing := make(chan int, 1)
	go func() {
		n := 0
		defer func() { missing <- n }()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := os.Lstat(out); err != nil {
				n++
			}
		}
	}()
	for i := range 300 {
		if err := Write(out, map[string][]byte{"a.yaml": []byte(fmt.Sprintf("%d\n", i))}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if n := <-missing; n > 0 {
		t.Fatalf("the site folder was missing %d times while it was replaced", n)
	}
	if got := readTree(t, out); got["a.yaml"] != "299\n" {
		t.Fatalf("after the writes: %v", got)
	}
}

// TestSwapByRenames: the fallback leaves the same state as the exchange.
func TestSwapByRenames(t *testing.T) {
	parent := t.TempDir()
	next, dir := filepath.Join(parent, "next"), filepath.Join(parent, "dir")
	for d, content := range map[string]string{next: "new\n", dir: "old\n"} {
		os.Mkdir(d, 0o755)
		os.WriteFile(filepath.Join(d, "f"), []byte(content), 0o644)
	}
	for name, fn := range map[string]func(string, string) error{"swap": swap, "swapByRenames": swapByRenames} {
		if err := fn(next, dir); err != nil {
			t.Fatal(name, err)
		}
		if got := readTree(t, dir)["f"]; got != "new\n" {
			t.Fatalf("%s: dir holds %q", name, got)
		}
		if got := readTree(t, next)["f"]; got != "old\n" {
			t.Fatalf("%s: next holds %q", name, got)
		}
		// Back again for the next function.
		if err := swapByRenames(next, dir); err != nil {
			t.Fatal(err)
		}
	}
}
