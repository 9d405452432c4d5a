package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// stepIdentity is how a generated backup step names its snapshots: restic
// --host, its --tag values and its --stdin-filename.
func stepIdentity(t testing.TB, c *Container) (host string, tags []string, file string) {
	t.Helper()
	script := c.Script()
	host = regexpFind(t, `--host=(\S+)`, script)
	for _, m := range regexp.MustCompile(`--tag=('[^']*'|\S+)`).FindAllStringSubmatch(script, -1) {
		tag := strings.Trim(m[1], `'"`)
		// restic_backup's own tags of a pre-upgrade run are not the step's.
		if tag == "pre-upgrade" || strings.HasPrefix(tag, "from=") {
			continue
		}
		tags = append(tags, tag)
	}
	file = regexpFind(t, `--stdin-filename=(\S+)`, script)
	return host, tags, file
}

// fabricated is a snapshot the test writes with restic backup --time, so
// that months of nightly runs take seconds.
type fabricated struct {
	host string
	tags []string
	file string
	at   string // "2006-01-02 15:04:05", UTC
}

// fabricate writes the snapshots, a few restic processes at a time.
func fabricate(t testing.TB, e *Env, env map[string]string, snaps []fabricated) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 3)
	errs := make([]string, len(snaps))
	for i, f := range snaps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			args := []string{e.Restic, "backup", "--host", f.host, "--time", f.at, "--stdin", "--stdin-filename", f.file}
			for _, tag := range f.tags {
				args = append(args, "--tag", tag)
			}
			if r := Run(t, Cmd{Args: args, Env: env, Stdin: strings.NewReader("fabricated " + f.at)}); !r.OK() {
				errs[i] = r.String()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != "" {
			t.Fatalf("fabricating a snapshot: %s", err)
		}
	}
}

// TestRetention runs the generated restic maintenance of site A on a
// repository that site A shares with site B, after months of nightly
// snapshots (fabricated with restic backup --time, with exactly the host,
// tags and file name of the generated steps). Nextcloud's database keeps
// 3 daily, 3 weekly and 3 monthly snapshots (GFS, as restic counts them);
// XWiki's keeps its own default retention; site B's snapshots of the same
// store, and a snapshot an operator made by hand on site A's host, are
// never touched.
func TestRetention(t *testing.T) {
	e := Setup(t)
	t.Parallel()
	const nc, xw = "nextcloud/postgresql/nextcloud", "xwiki/postgresql/xwiki"
	db := Unique("nextcloud_")
	a := e.BuildSite(t, SiteSpec{
		Apps: []string{"nextcloud", "xwiki"},
		Policy: fmt.Sprintf(`stores: %q: {
	connection: database: %q
	retention: {daily: 3, weekly: 3, monthly: 3}
}
`, nc, db),
	})
	b := e.BuildSite(t, SiteSpec{
		Apps:         []string{"nextcloud"},
		RepoBucket:   a.RepoBucket,
		MirrorBucket: a.MirrorBucket,
		RepoPassword: a.Secrets["odbackup-restic/password"],
		Policy:       fmt.Sprintf("stores: %q: connection: database: %q\n", nc, db),
	})
	if a.Repo != b.Repo {
		t.Fatalf("the sites do not share a repository: %s, %s", a.Repo, b.Repo)
	}

	// Tonight's real backup of site A.
	backup := pgApp(t, e, a, nc, "nextcloud_user", db, "CREATE TABLE t (v text); INSERT INTO t VALUES ('tonight');")
	backup.MustRun(t, nil)
	repo := a.RepoEnv(t)
	repo["TZ"] = "UTC"

	// Months of earlier nights.
	aHost, ncTags, ncFile := stepIdentity(t, backup)
	_, xwTags, xwFile := stepIdentity(t, a.Backup(t, xw))
	bHost, bTags, bFile := stepIdentity(t, b.Backup(t, nc))
	if aHost != a.Name || bHost != b.Name || ncFile != bFile || !slices.Equal(ncTags, bTags) {
		t.Fatalf("unexpected step identities: %s %v %s / %s %v %s", aHost, ncTags, ncFile, bHost, bTags, bFile)
	}
	aNC := []string{
		"2025-03-10 01:00:00", "2025-03-09 01:00:00", "2025-03-08 01:00:00", "2025-03-07 13:00:00",
		"2025-03-07 01:00:00", "2025-03-02 01:00:00", "2025-02-23 01:00:00", "2025-02-16 01:00:00",
		"2025-01-15 01:00:00", "2024-12-15 01:00:00",
	}
	aXW := []string{"2025-03-09 02:00:00", "2025-03-08 02:00:00", "2025-03-07 02:00:00", "2025-03-06 02:00:00", "2025-03-05 02:00:00"}
	bNC := []string{"2024-11-15 03:00:00", "2024-10-15 03:00:00", "2024-09-15 03:00:00", "2024-08-15 03:00:00", "2024-07-15 03:00:00", "2024-06-15 03:00:00"}
	var snaps []fabricated
	for _, at := range aNC {
		snaps = append(snaps, fabricated{aHost, ncTags, ncFile, at})
	}
	for _, at := range aXW {
		snaps = append(snaps, fabricated{aHost, xwTags, xwFile, at})
	}
	for _, at := range bNC {
		snaps = append(snaps, fabricated{bHost, bTags, bFile, at})
	}
	manual := fabricated{aHost, []string{"manual"}, ncFile, "2024-01-01 12:00:00"}
	snaps = append(snaps, manual)
	fabricate(t, e, repo, snaps)

	// What GFS keeps of Nextcloud's: tonight (daily, weekly, monthly),
	// 03-10 (daily; weekly 2025-W11; monthly 2025-03), 03-09 (daily;
	// weekly 2025-W10) and 02-23 (monthly 2025-02). Every count is used
	// up, so the oldest is not kept.
	want := map[string][]string{
		aHost + " " + nc:  {"2025-02-23 01:00:00", "2025-03-09 01:00:00", "2025-03-10 01:00:00", "tonight"},
		aHost + " " + xw:  slices.Sorted(slices.Values(aXW)),
		bHost + " " + nc:  slices.Sorted(slices.Values(bNC)),
		aHost + " manual": {manual.at},
	}
	a.Maintenance(t).MustRun(t, nil)

	got := map[string][]string{}
	today := time.Now().UTC().Format("2006-01-02")
	for _, sn := range e.Snapshots(t, repo) {
		group := sn.Hostname + " manual"
		for _, tag := range sn.Tags {
			if s, ok := strings.CutPrefix(tag, "store="); ok {
				group = sn.Hostname + " " + s
			}
		}
		at := sn.Time.UTC().Format("2006-01-02 15:04:05")
		if strings.HasPrefix(at, today) {
			at = "tonight"
		}
		got[group] = append(got[group], at)
	}
	for g := range got {
		slices.Sort(got[g])
	}
	for _, g := range slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	}) {
		if !slices.Equal(got[g], want[g]) {
			t.Errorf("%s: kept\n  %s\nwant\n  %s", g, strings.Join(got[g], "\n  "), strings.Join(want[g], "\n  "))
		}
	}
	if len(got) != len(want) {
		t.Errorf("snapshot groups %v, want %v", got, want)
	}
}
