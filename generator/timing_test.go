package generator_test

import (
	"testing"
	"time"

	"github.com/odbackup/odbackup/generator/schedule"
)

// TestDeadlinesFitSchedules: in every example, a CronJob that starts as
// late as its starting deadline allows and runs as long as its active
// deadline allows ends before its next run is due, in real time in the
// CronJob's time zone (a spring change shortens a daily gap to 23 hours).
// Otherwise a hung run makes the controller skip the next ones
// (concurrencyPolicy: Forbid): the hourly job of a 6-hour deadline lost
// five runs.
func TestDeadlinesFitSchedules(t *testing.T) {
	for site, tree := range examples(t) {
		for name, cj := range decodeTree(t, site, tree).cronJobs {
			loc, err := schedule.Location(*cj.Spec.TimeZone)
			if err != nil {
				t.Fatalf("%s/%s: %v", site, name, err)
			}
			g, err := schedule.Analyze(cj.Spec.Schedule, loc)
			if err != nil || !g.Runs {
				t.Fatalf("%s/%s: schedule %q: %v (runs: %v)", site, name, cj.Spec.Schedule, err, g.Runs)
			}
			start := time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second
			active := time.Duration(*cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds) * time.Second
			if start+active > g.Interval {
				t.Errorf("%s/%s: starting deadline %v + active deadline %v exceed the schedule's interval %v (%q in %s)",
					site, name, start, active, g.Interval, cj.Spec.Schedule, loc)
			}
			if start < 10*time.Second {
				t.Errorf("%s/%s: starting deadline %v: the controller checks every 10 s and could miss every start", site, name, start)
			}
			if active < 5*time.Minute {
				t.Errorf("%s/%s: active deadline %v leaves a backup no time", site, name, active)
			}
		}
	}
}

// TestNoJobInSkippedHour: no example CronJob, derived or written in the
// policy, runs at a local time its time zone skips; the examples run in
// Europe/Berlin with backup windows across 02:00.
func TestNoJobInSkippedHour(t *testing.T) {
	for site, tree := range examples(t) {
		for name, cj := range decodeTree(t, site, tree).cronJobs {
			loc, err := schedule.Location(*cj.Spec.TimeZone)
			if err != nil {
				t.Fatal(err)
			}
			if at, skipped, err := schedule.SkippedRun(cj.Spec.Schedule, loc); err != nil || skipped {
				t.Errorf("%s/%s: schedule %q runs at %s, a time %s skips (%v)", site, name, cj.Spec.Schedule, at, loc, err)
			}
		}
	}
}
