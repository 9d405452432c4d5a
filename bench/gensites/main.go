// Command gensites writes N distinct, valid site policies for the batch
// benchmark: editions, releases, distributions, app sets, optional
// decisions, waivers, targets and schedules vary with a fixed seed, so the
// same N gives the same files on every machine. Every policy is evaluated
// before it is written; an invalid one is a bug here and stops the run.
//
//	go run ./bench/gensites -n 1000 -o /tmp/sites
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/odbackup/odbackup/schema"
)

func main() {
	n := flag.Int("n", 1000, "number of sites")
	out := flag.String("o", "sites", "output folder")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*n, *out, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gensites:", err)
		os.Exit(1)
	}
}

func run(n int, out string, seed uint64) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, 0))
	var s *schema.Schema
	for i := range n {
		// A schema keeps every policy it evaluated: a fresh one every 500
		// keeps 10,000 policies from taking a gigabyte.
		if i%500 == 0 {
			var err error
			if s, err = schema.Load(); err != nil {
				return err
			}
		}
		src := site(r, s, i)
		name := filepath.Join(out, fmt.Sprintf("site-%04d.cue", i))
		if _, err := s.Evaluate(name, src); err != nil {
			return fmt.Errorf("generated an invalid policy %s:\n%v\n%s", name, err, src)
		}
		if err := os.WriteFile(name, src, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func site(r *rand.Rand, s *schema.Schema, i int) []byte {
	distribution, edition := "opendesk", pick(r, "ce", "ee")
	release := fmt.Sprintf("%s.%d", pick(r, "v1.17", "v1.18", "v1.19"), r.IntN(4))
	if r.IntN(10) == 0 {
		distribution, edition, release = "opendesk-edu", "ce", fmt.Sprintf("v1.17.%d", r.IntN(4))
	}
	cat := s.Catalog(distribution)
	line := schema.ReleaseLine(release)
	name := fmt.Sprintf("%s-%04d", pick(r, "schule", "gymnasium", "hochschule", "amt", "kreis", "uni"), i)

	var b strings.Builder
	fmt.Fprintf(&b, "site: %q\ndistribution: %q\nedition: %q\nrelease: %q\n", name, distribution, edition, release)
	fmt.Fprintf(&b, "namespace: %q\ndomain: %q\n", pick(r, "opendesk", "od-"+name), name+".example.org")
	targets := []string{"offsite"}
	writeTarget(&b, "offsite", name)
	if r.IntN(3) == 0 {
		targets = append(targets, "second")
		writeTarget(&b, "second", name)
		b.WriteString("defaultTarget: \"offsite\"\n")
	}
	fmt.Fprintf(&b, "snapshot: {driver: %q, keep: %d}\n", pick(r, "rbd.csi.ceph.com", "driver.longhorn.io", "ebs.csi.aws.com"), 3+r.IntN(12))
	startHour, startMinute, hours := r.IntN(24), r.IntN(60), 1+r.IntN(8)
	timeZone := pick(r, "Europe/Berlin", "Etc/UTC")
	fmt.Fprintf(&b, "schedule: {window: {start: \"%02d:%02d\", hours: %d}, timeZone: %q}\n",
		startHour, startMinute, hours, timeZone)
	fmt.Fprintf(&b, "retention: {daily: %d, weekly: %d, monthly: %d}\n", 1+r.IntN(14), r.IntN(8), r.IntN(12))

	b.WriteString("apps: {\n")
	deployed := map[string]bool{}
	for _, id := range cat.AppIDs() {
		app := cat.Apps[id]
		if !slices.Contains(app.Editions, edition) || !slices.Contains(app.Releases, line) {
			continue
		}
		on := app.EnabledByDefault
		if r.IntN(5) == 0 {
			on = !on
		}
		deployed[id] = on
		fmt.Fprintf(&b, "\t%q: {deployed: %t", id, on)
		if on && r.IntN(6) == 0 {
			minute, hour := r.IntN(60), r.IntN(24)
			if hour == 2 && timeZone == "Europe/Berlin" {
				hour = 3 // 02:xx does not exist there once a year (vet refuses it)
			}
			fmt.Fprintf(&b, ", schedule: \"%d %d * * *\"", minute, hour)
		}
		if on && len(targets) > 1 && r.IntN(4) == 0 {
			b.WriteString(`, target: "second"`)
		}
		if on && r.IntN(8) == 0 {
			b.WriteString(", splitStores: true")
		}
		b.WriteString("}\n")
	}
	b.WriteString("}\nstores: {\n")
	for _, id := range cat.AppIDs() {
		if !deployed[id] {
			continue
		}
		for _, st := range cat.Apps[id].SortedStores() {
			if !slices.Contains(st.Editions, edition) || !slices.Contains(st.Releases, line) {
				continue
			}
			// One entry per store, its fields in a fixed order; a store
			// whose chart keeps its database password inline names a
			// Secret when it is backed up (the rules require it).
			var fields []string
			backedUp := st.Backup == "required"
			switch {
			case st.Backup == "optional":
				backedUp = r.IntN(2) == 0
				fields = append(fields, fmt.Sprintf("backup: %t", backedUp))
			case st.Backup == "required" && r.IntN(25) == 0:
				backedUp = false
				fields = append(fields, fmt.Sprintf("waiver: {reason: %q, expires: \"2027-%02d-%02d\"}",
					"generated waiver for the benchmark", 1+r.IntN(12), 1+r.IntN(28)))
			case st.Backup == "required" && r.IntN(20) == 0:
				fields = append(fields, fmt.Sprintf("retention: {daily: %d}", 1+r.IntN(30)))
			}
			if backedUp && st.InlineCredentials != "" {
				fields = append(fields, fmt.Sprintf("connection: passwordSecret: {name: %q, key: \"password\"}", "odbackup-"+st.App))
			}
			switch len(fields) {
			case 0:
			case 1:
				fmt.Fprintf(&b, "\t%q: %s\n", st.ID, fields[0])
			default:
				fmt.Fprintf(&b, "\t%q: {%s}\n", st.ID, strings.Join(fields, ", "))
			}
		}
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

func writeTarget(b *strings.Builder, name, site string) {
	fmt.Fprintf(b, `targets: %q: {
	restic: {
		repository: "s3:https://s3.example.org/%[2]s/%[1]s"
		passwordSecret: {name: "odbackup-restic-%[1]s", key: "password"}
		s3Credentials: {accessKeyID: {name: "odbackup-s3", key: "id"}, secretAccessKey: {name: "odbackup-s3", key: "secret"}}
	}
	bucketMirror: {
		endpoint: "https://s3.example.org"
		bucket: "mirror-%[1]s"
		credentials: {accessKeyID: {name: "odbackup-s3", key: "id"}, secretAccessKey: {name: "odbackup-s3", key: "secret"}}
		encryption: {passwordSecret: {name: "odbackup-crypt", key: "password"}, saltSecret: {name: "odbackup-crypt", key: "salt"}}
	}
}
`, name, site)
}
