package writetree

import (
	"os"
	"path/filepath"
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
