package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator/kinds"
)

// TestToolsMatchDefaultImages proves that the suite runs the versions the
// generated Jobs run by default: a round trip with pg_dump 15 says little
// about the pg_dump 17 of an image. PostgreSQL, MariaDB and Redis must share
// the default image's major version (MariaDB's 10.11 is a major version);
// restic and rclone, built from the Go module proxy, its exact version. It
// reads the defaults from the schema, so changing a default without the
// suite (or the other way round) fails here.
func TestToolsMatchDefaultImages(t *testing.T) {
	e := Setup(t)
	// The CE example sets no image and no PostgreSQL version.
	file := filepath.Join("..", "examples", "ce-school", "site.cue")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	site, err := sch.Evaluate(file, src)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	images := site.Policy.Images
	for _, c := range []struct {
		tool  string
		image string
		args  []string
		// major is how many leading numbers make the major version (the
		// servers come from Debian); 0 compares the whole version.
		major int
	}{
		{"pg_dump", kinds.PostgresImage(site.Policy), []string{filepath.Join(e.PG.Bin, "pg_dump"), "--version"}, 1},
		{"mariadb-dump", images.MariaDB, []string{"mariadb-dump", "--version"}, 2},
		{"mariadbd", images.MariaDB, []string{"mariadbd", "--version"}, 2},
		{"redis-server", images.Redis, []string{"redis-server", "--version"}, 1},
		{"restic", images.Restic, []string{"restic", "version"}, 0},
		{"rclone", images.Rclone, []string{"rclone", "version"}, 0},
	} {
		want := imageVersion(t, c.image)
		r := Run(t, Cmd{Args: c.args})
		if !r.OK() {
			t.Errorf("%s:\n%s", c.tool, r)
			continue
		}
		got := firstVersion(r.Stdout)
		if c.major > 0 {
			want, got = majorOf(want, c.major), majorOf(got, c.major)
		}
		if got != want {
			t.Errorf("%s here is %s, the default image %s has %s", c.tool, got, c.image, want)
		}
	}
}

// versionRE finds a dotted version number.
var versionRE = regexp.MustCompile(`\d+\.\d+(\.\d+)?`)

// imageVersion is the version in an image's tag (postgres:15.14-bookworm
// is 15.14).
func imageVersion(t *testing.T, image string) string {
	t.Helper()
	tag := image[strings.LastIndex(image, ":")+1:]
	v := versionRE.FindString(tag)
	if v == "" {
		t.Fatalf("the image %s has no version in its tag", image)
	}
	return v
}

// firstVersion is the first dotted version a tool prints about itself;
// mariadb-dump prints the client's own version first ("Ver 10.19 Distrib
// 10.11.19-MariaDB"), the server's after "Distrib".
func firstVersion(out string) string {
	if _, after, ok := strings.Cut(out, "Distrib "); ok {
		out = after
	}
	return versionRE.FindString(out)
}

// majorOf is the first n numbers of a version: PostgreSQL 15 and Redis 7
// have one, MariaDB 10.11 and 11.4 two.
func majorOf(v string, n int) string {
	parts := strings.Split(v, ".")
	return strings.Join(parts[:min(n, len(parts))], ".")
}
