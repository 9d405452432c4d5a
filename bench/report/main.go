// Command report reads hyperfine's JSON exports and prints every command's
// median, min and max, and the ratios the benchmark goals are stated in,
// each against a baseline measured in the same run.
//
//	go run ./bench/report -dir $BENCH_DIR
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

type export struct {
	Results []struct {
		Command string    `json:"command"`
		Times   []float64 `json:"times"`
		// User and System are means over Times: one run's CPU seconds
		// in the data-path exports, which time one run per file.
		User   float64 `json:"user"`
		System float64 `json:"system"`
	} `json:"results"`
}

type timing struct {
	command          string
	median, min, max float64
	runs             int
	// cpu is the median over the exports of user plus system seconds of
	// the command and its children (not of the servers it talks to).
	cpu float64
}

func main() {
	dir := flag.String("dir", ".", "folder with the hyperfine exports and extra figures")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// load reads the hyperfine exports matching pattern in dir and merges the
// runs of each command across them (the backup path runs one round per
// file, the commands in turns), in the order the first file names them.
// timePrefix is how bench/batch.sh wraps a command to record its peak
// memory; the tables name the command without it.
var timePrefix = regexp.MustCompile(`^/usr/bin/time -f %M -a -o \S+ `)

func load(dir, pattern string) ([]timing, error) {
	files, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no hyperfine export %s in %s", pattern, dir)
	}
	slices.Sort(files)
	var order []string
	times, cpu := map[string][]float64{}, map[string][]float64{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var e export
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, r := range e.Results {
			c := timePrefix.ReplaceAllString(r.Command, "")
			if _, seen := times[c]; !seen {
				order = append(order, c)
			}
			times[c] = append(times[c], r.Times...)
			cpu[c] = append(cpu[c], r.User+r.System)
		}
	}
	var out []timing
	for _, c := range order {
		t, u := times[c], cpu[c]
		slices.Sort(t)
		slices.Sort(u)
		out = append(out, timing{c, median(t), t[0], t[len(t)-1], len(t), median(u)})
	}
	return out, nil
}

// loadAll loads the exports of each pattern (see load).
func loadAll(dir string, patterns ...string) ([][]timing, error) {
	var out [][]timing
	for _, p := range patterns {
		ts, err := load(dir, p)
		if err != nil {
			return nil, err
		}
		out = append(out, ts)
	}
	return out, nil
}

// printTimings prints a Markdown table of the commands' runs, median, min
// and max, in seconds written with secs (a Printf verb).
func printTimings(secs string, ts []timing) {
	fmt.Println("| command | runs | median s | min s | max s |\n|---|---|---|---|---|")
	for _, t := range ts {
		fmt.Printf("| `%s` | %d | "+secs+" | "+secs+" | "+secs+" |\n", t.command, t.runs, t.median, t.min, t.max)
	}
}

// printPathTimings prints a data path's table: printTimings' columns and
// the median CPU time of the command and its children.
func printPathTimings(ts []timing) {
	fmt.Println("| command | runs | median s | min s | max s | CPU s (median) |\n|---|---|---|---|---|---|")
	for _, t := range ts {
		fmt.Printf("| %s | %d | %.1f | %.1f | %.1f | %.1f |\n", t.command, t.runs, t.median, t.min, t.max, t.cpu)
	}
}

// readNumbers reads the named files of one number each.
func readNumbers(dir string, names ...string) ([]float64, error) {
	var out []float64
	for _, n := range names {
		v, err := readNumber(dir, n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// figures prints the header of a figures table.
func figures() {
	fmt.Println()
	fmt.Println("| figure | value | goal |\n|---|---|---|")
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func readNumber(dir, name string) (float64, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
}

// run prints every section whose exports are in dir; a section that was
// not measured (a data path run on its own) is named on stderr. A section
// measured in part is an error.
func run(dir string) error {
	sections := []struct {
		name, first string // the folder below dir, and its first export
		f           func(string) error
	}{
		{"", "single.json", builds},
		{"backup-path", "backup-*.json", backupPath},
		{"offsite", "backup-*.json", offsitePath},
		{"mariadb", "backup-*.json", mariadbPath},
		{"redis", "backup-*.json", redisPath},
		{"ldap", "backup-*.json", ldapPath},
		{"s3", "full-*.json", s3Path},
	}
	printed := 0
	for _, s := range sections {
		d := filepath.Join(dir, s.name)
		if m, _ := filepath.Glob(filepath.Join(d, s.first)); len(m) == 0 {
			fmt.Fprintf(os.Stderr, "report: no %s in %s: not measured\n", s.first, d)
			continue
		}
		if printed > 0 {
			fmt.Println()
		}
		if err := s.f(d); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		printed++
	}
	if printed == 0 {
		return errors.New("no section measured in " + dir)
	}
	return nil
}

// builds reports sections 1 and 2: one site against cue export, and many
// sites in one process.
func builds(dir string) error {
	ts, err := loadAll(dir, "single.json", "batch.json", "batch10000.json")
	if err != nil {
		return err
	}
	single, batch, batch10000 := ts[0], ts[1], ts[2]
	printTimings("%.3f", slices.Concat(single, batch, batch10000))
	build, cueExport := single[0], single[1]
	build100, build1000, check1000 := batch[0], batch[1], batch[2]
	build10000 := batch10000[0]
	figures()
	fmt.Printf("| build of the EE example / cue export of the same policy | %.2f× | ≤ 1.2× |\n", build.median/cueExport.median)
	for _, b := range []struct {
		t     timing
		sites string
		n     float64
		goal  string
	}{{build1000, "1,000", 1000, "≤ 0.1×"}, {build10000, "10,000", 10000, "≤ 0.08×"}} {
		perSite := b.t.median / b.n
		fmt.Printf("| per-site cost in a %s-site batch / single-site build | %.3f× (%.1f ms / %.0f ms) | %s |\n",
			b.sites, perSite/build.median, perSite*1000, build.median*1000, b.goal)
	}
	fmt.Printf("| time(1,000 sites) / time(100 sites) | %.2f | ≤ 11 |\n", build1000.median/build100.median)
	fmt.Printf("| time(10,000 sites) / time(1,000 sites) | %.2f (CPU time: %.2f) | ≤ 10.5 |\n",
		build10000.median/build1000.median, build10000.cpu/build1000.cpu)
	fmt.Printf("| --check of the up-to-date 1,000-site tree / build | %.2f× | ≤ 1× |\n", check1000.median/build1000.median)
	for _, m := range []struct{ file, what string }{
		{"rss100.kb", "100 sites"}, {"rss1000.kb", "1,000 sites"},
		{"rss1000check.kb", "--check of 1,000 sites"}, {"rss10000.kb", "10,000 sites"},
	} {
		peak, err := peakMiB(dir, m.file)
		if err != nil {
			return err
		}
		fmt.Printf("| peak memory (max RSS of the runs), %s | %.0f MiB | ≤ 1024 MiB |\n", m.what, peak)
	}
	return nil
}

// peakMiB reads the max RSS (KiB) that /usr/bin/time appended to name for
// each run and returns the largest, in MiB.
func peakMiB(dir, name string) (float64, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, err
	}
	peak := 0.0
	for _, line := range strings.Fields(string(data)) {
		kb, err := strconv.ParseFloat(line, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		peak = max(peak, kb/1024)
	}
	return peak, nil
}

// backupPath reports bench/backup-path.sh: the generated PostgreSQL job and
// restore against bare pg_dump and pg_restore on the same database.
func backupPath(dir string) error {
	ts, err := loadAll(dir, "backup-*.json", "restore-*.json")
	if err != nil {
		return err
	}
	backup, restore := ts[0], ts[1]
	n, err := readNumbers(dir, "database.bytes", "added.bytes")
	if err != nil {
		return err
	}
	size, added := n[0], n[1]
	printTimings("%.1f", append(slices.Clone(backup), restore...))
	mib := size / (1 << 20)
	fmt.Println()
	fmt.Println("| figure | value | goal |\n|---|---|---|")
	fmt.Printf("| database size | %.0f MiB | 5120 MiB (ODBACKUP_BENCH_PG_SCALE) |\n", mib)
	fmt.Printf("| generated backup job / bare pg_dump, throughput | %.2f× (%.0f vs %.0f MiB/s) | ≥ 0.9× |\n",
		backup[0].median/backup[1].median, mib/backup[1].median, mib/backup[0].median)
	fmt.Printf("| second run of an unchanged database adds | %.1f MiB (%.2f%% of the database) | almost nothing |\n",
		added/(1<<20), 100*added/size)
	fmt.Printf("| generated restore / pg_restore from a local file, throughput | %.2f× | ≥ 0.9× |\n",
		restore[0].median/restore[1].median)
	return parallelRestore(dir, mib)
}

// parallelRestore reports section 4 of bench/backup-path.sh: the restore
// Job of a store with restoreScratch (staged, pg_restore --jobs=2) against
// the streaming Job and bare pg_restore -j 2 from a local file, by label.
func parallelRestore(dir string, mib float64) error {
	ts, err := load(dir, "prestore-*.json")
	if err != nil {
		return err
	}
	by := map[string]timing{}
	for _, t := range ts {
		by[t.command] = t
	}
	var four []timing
	for _, label := range []string{"streaming restore Job", "parallel restore Job (--jobs=2, staged on local disk)",
		"pg_restore -j 2 from the pg_dump file", "pg_restore -j 2 from the file the Job stages"} {
		t, ok := by[label]
		if !ok {
			return fmt.Errorf("prestore-*.json: no command %q", label)
		}
		four = append(four, t)
	}
	stream, parallel, bare, staged := four[0], four[1], four[2], four[3]
	fmt.Println()
	fmt.Println("Parallel restore (restoreScratch, 2 jobs)")
	fmt.Println()
	printPathTimings(four)
	figures()
	fmt.Printf("| parallel restore Job / streaming restore Job, time | %.2f× (%.1f vs %.1f s) | below 1× pays for staging |\n",
		parallel.median/stream.median, parallel.median, stream.median)
	fmt.Printf("| parallel restore Job / bare pg_restore -j 2 from the pg_dump file, throughput | %.2f× (%.0f vs %.0f MiB/s) | ≥ 0.9× |\n",
		bare.median/parallel.median, mib/parallel.median, mib/bare.median)
	fmt.Printf("| staging and checks (parallel Job − pg_restore -j 2 of the staged file) | %.1f s | |\n",
		parallel.median-staged.median)
	fmt.Printf("| archive without data offsets (staged file − pg_dump file, both pg_restore -j 2) | %.1f s | |\n",
		staged.median-bare.median)
	return nil
}

// offsitePath reports bench/offsite-path.sh: the generated copy pod's script
// against a bare restic backup of the same directory.
func offsitePath(dir string) error {
	ts, err := loadAll(dir, "backup-*.json", "second-*.json")
	if err != nil {
		return err
	}
	backup, second := ts[0], ts[1]
	tree, err := readLines(dir, "tree.stats")
	if err != nil {
		return err
	}
	added, err := readNumber(dir, "added.bytes")
	if err != nil {
		return err
	}
	fmt.Println("Off-site copy of a volume")
	fmt.Println()
	printPathTimings(append(slices.Clone(backup), second...))
	mib := tree[0] / (1 << 20)
	figures()
	fmt.Printf("| the volume | %.0f MiB in %.0f files | ≥ 1024 MiB, many files |\n", mib, tree[1])
	fmt.Printf("| copy pod / bare restic backup, empty repository, throughput | %.2f× (%.0f vs %.0f MiB/s) | ≥ 0.9× |\n",
		backup[0].median/backup[1].median, mib/backup[1].median, mib/backup[0].median)
	fmt.Printf("| copy pod / bare restic backup, second run of the unchanged volume | %.2f× (%.1f vs %.1f s) | ≥ 0.9× |\n",
		second[0].median/second[1].median, second[1].median, second[0].median)
	fmt.Printf("| second run of the unchanged volume adds | %.0f KiB (%.3f%% of the volume) | almost nothing |\n",
		added/(1<<10), 100*added/tree[0])
	fmt.Printf("| CPU of the copy pod / bare restic backup, empty repository | %.2f× | |\n", backup[1].cpu/backup[0].cpu)
	return nil
}

// mariadbPath reports bench/mariadb-path.sh: the generated steps and
// restore Jobs of configdb and PRIMARYDB_* against bare mariadb-dump and
// the mariadb client.
func mariadbPath(dir string) error {
	ts, err := loadAll(dir, "backup-*.json", "restore-*.json")
	if err != nil {
		return err
	}
	backup, restore := ts[0], ts[1]
	n, err := readNumbers(dir, "database.bytes", "dump.bytes", "added.bytes")
	if err != nil {
		return err
	}
	size, dump, added := n[0], n[1], n[2]
	fmt.Println("MariaDB")
	fmt.Println()
	printPathTimings(append(slices.Clone(backup), restore...))
	figures()
	fmt.Printf("| databases (configdb, PRIMARYDB_1 to 4) on disk; their dumps | %.0f MiB; %.0f MiB | ≥ 1024 MiB |\n", size/(1<<20), dump/(1<<20))
	fmt.Printf("| generated job / bare mariadb-dump, throughput | %.2f× (%.0f vs %.0f MiB/s of dump) | ≥ 0.85× |\n",
		backup[0].median/backup[1].median, dump/(1<<20)/backup[1].median, dump/(1<<20)/backup[0].median)
	fmt.Printf("| second run of the unchanged databases adds | %.0f KiB (%.3f%% of the dumps) | almost nothing |\n",
		added/(1<<10), 100*added/dump)
	fmt.Printf("| generated restore / mariadb < file, throughput | %.2f× | ≥ 0.85× |\n", restore[0].median/restore[1].median)
	fmt.Printf("| CPU of the job / bare mariadb-dump (clients only, not the server) | %.2f× | |\n", backup[1].cpu/backup[0].cpu)
	return nil
}

// redisPath reports bench/redis-path.sh: the generated step against a
// bare redis-cli --rdb into a file.
func redisPath(dir string) error {
	backup, err := load(dir, "backup-*.json")
	if err != nil {
		return err
	}
	n, err := readNumbers(dir, "rdb.bytes", "added.bytes", "diskless-delay.seconds")
	if err != nil {
		return err
	}
	rdb, added, delay := n[0], n[1], n[2]
	fmt.Println("Redis")
	fmt.Println()
	printPathTimings(backup)
	mib := rdb / (1 << 20)
	figures()
	fmt.Printf("| RDB | %.0f MiB | about 1024 MiB |\n", mib)
	fmt.Printf("| generated step / bare redis-cli --rdb, throughput | %.2f× (%.0f vs %.0f MiB/s) | ≥ 0.9× |\n",
		backup[0].median/backup[1].median, mib/backup[1].median, mib/backup[0].median)
	fmt.Printf("| the same without the server's repl-diskless-sync-delay (%.0f s, in both) | %.2f× | |\n",
		delay, (backup[0].median-delay)/(backup[1].median-delay))
	fmt.Printf("| second run of the unchanged data adds | %.0f KiB (%.2f%% of the RDB) | almost nothing |\n",
		added/(1<<10), 100*added/rdb)
	return nil
}

// ldapPath reports bench/ldap-path.sh: the generated slapcat export and
// its restore (Job and runbook) against bare slapcat and slapadd.
func ldapPath(dir string) error {
	ts, err := loadAll(dir, "backup-*.json", "restore-*.json")
	if err != nil {
		return err
	}
	backup, restore := ts[0], ts[1]
	n, err := readNumbers(dir, "entries.count", "ldif.bytes", "added.bytes")
	if err != nil {
		return err
	}
	entries, ldif, added := n[0], n[1], n[2]
	fmt.Println("LDAP")
	fmt.Println()
	printPathTimings(append(slices.Clone(backup), restore...))
	figures()
	fmt.Printf("| the directory | %.0f entries, an LDIF of %.0f MiB | 100,000 entries |\n", entries, ldif/(1<<20))
	fmt.Printf("| generated export step / bare slapcat, throughput | %.2f× (bare %.1f s, job %.1f s) | ≥ 0.9× |\n",
		backup[0].median/backup[1].median, backup[0].median, backup[1].median)
	fmt.Printf("| second run of the unchanged directory adds | %.0f KiB (%.2f%% of the LDIF) | almost nothing |\n",
		added/(1<<10), 100*added/ldif)
	fmt.Printf("| restore Job and runbook / bare slapadd, throughput | %.2f× (bare %.1f s, job %.1f s) | ≥ 0.9× |\n",
		restore[0].median/restore[1].median, restore[0].median, restore[1].median)
	return nil
}

// s3Path reports bench/s3-path.sh: the generated mirror step against a
// bare rclone sync, into empty mirrors and on an incremental night.
func s3Path(dir string) error {
	ts, err := loadAll(dir, "full-*.json", "incremental-*.json")
	if err != nil {
		return err
	}
	full, incr := ts[0], ts[1]
	bucket, err := readLines(dir, "bucket.stats")
	if err != nil {
		return err
	}
	changed, err := readNumber(dir, "changed.count")
	if err != nil {
		return err
	}
	fmt.Println("S3 mirror")
	fmt.Println()
	printPathTimings(append(slices.Clone(full), incr...))
	mib := bucket[0] / (1 << 20)
	figures()
	fmt.Printf("| the bucket | %.0f MiB in %.0f objects | ≥ 1024 MiB, ≥ 20,000 objects |\n", mib, bucket[1])
	fmt.Printf("| generated step / bare rclone sync, empty mirror, throughput | %.2f× (%.0f vs %.0f MiB/s) | ≥ 0.9× |\n",
		full[0].median/full[1].median, mib/full[1].median, mib/full[0].median)
	fmt.Printf("| generated step / bare rclone sync, %.0f objects (1%%) changed | %.2f× (bare %.1f s, job %.1f s) | ≥ 0.9× |\n",
		changed, incr[0].median/incr[1].median, incr[0].median, incr[1].median)
	fmt.Printf("| CPU of the generated step / bare rclone sync, empty mirror | %.2f× | |\n", full[1].cpu/full[0].cpu)
	return nil
}

// readLines reads a file of one number a line.
func readLines(dir, name string) ([]float64, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, f := range strings.Fields(string(data)) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, v)
	}
	return out, nil
}
