// Command report reads hyperfine's JSON exports and prints every command's
// median, min and max, and the ratios the benchmark goals are stated in,
// each against a baseline measured in the same run.
//
//	go run ./bench/report -dir $BENCH_DIR
package main

import (
	"encoding/json"
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
		User    float64   `json:"user"`
		System  float64   `json:"system"`
	} `json:"results"`
}

type timing struct {
	command          string
	median, min, max float64
	runs             int
	// cpu is the mean user and system time of a run: what the process
	// itself spent, which a noisy neighbour changes less than the median.
	cpu float64
}

// timePrefix is how bench/batch.sh wraps a command to record its peak
// memory; the tables name the command without it.
var timePrefix = regexp.MustCompile(`^/usr/bin/time -f %M -a -o \S+ `)

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
	times := map[string][]float64{}
	cpu := map[string][]float64{} // one mean per file, weighted by its runs
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
			for range r.Times {
				cpu[c] = append(cpu[c], r.User+r.System)
			}
		}
	}
	var out []timing
	for _, c := range order {
		t := times[c]
		slices.Sort(t)
		out = append(out, timing{c, median(t), t[0], t[len(t)-1], len(t), mean(cpu[c])})
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

func mean(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
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

func run(dir string) error {
	single, err := load(dir, "single.json")
	if err != nil {
		return err
	}
	batch, err := load(dir, "batch.json")
	if err != nil {
		return err
	}
	batch10000, err := load(dir, "batch10000.json")
	if err != nil {
		return err
	}
	printTimings("%.3f", slices.Concat(single, batch, batch10000))
	build, cueExport := single[0], single[1]
	build100, build1000, check1000 := batch[0], batch[1], batch[2]
	build10000 := batch10000[0]
	fmt.Println()
	fmt.Println("| figure | value | goal |\n|---|---|---|")
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
	// The backup path (bench/backup-path.sh) is reported when it ran.
	if _, err := os.Stat(filepath.Join(dir, "backup-path")); err != nil {
		return nil
	}
	return backupPath(filepath.Join(dir, "backup-path"))
}

// backupPath reports bench/backup-path.sh: the generated PostgreSQL job and
// restore against bare pg_dump and pg_restore on the same database.
func backupPath(dir string) error {
	backup, err := load(dir, "backup-*.json")
	if err != nil {
		return err
	}
	restore, err := load(dir, "restore-*.json")
	if err != nil {
		return err
	}
	size, err := readNumber(dir, "database.bytes")
	if err != nil {
		return err
	}
	added, err := readNumber(dir, "added.bytes")
	if err != nil {
		return err
	}
	fmt.Println()
	printTimings("%.1f", append(slices.Clone(backup), restore...))
	mib := size / (1 << 20)
	fmt.Println()
	fmt.Println("| figure | value | goal |\n|---|---|---|")
	fmt.Printf("| database size | %.0f MiB | ≥ 1024 MiB |\n", mib)
	fmt.Printf("| generated backup job / bare pg_dump, throughput | %.2f× (%.0f vs %.0f MiB/s) | ≥ 0.8× |\n",
		backup[0].median/backup[1].median, mib/backup[1].median, mib/backup[0].median)
	fmt.Printf("| second run of an unchanged database adds | %.1f MiB (%.2f%% of the database) | almost nothing |\n",
		added/(1<<20), 100*added/size)
	fmt.Printf("| generated restore / pg_restore from a local file, throughput | %.2f× | ≥ 0.8× |\n",
		restore[0].median/restore[1].median)
	return nil
}
