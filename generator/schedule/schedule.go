// Package schedule answers what a cron schedule means in a time zone, the
// way the Kubernetes CronJob controller runs it (with
// github.com/robfig/cron/v3, the library the controller uses): the longest
// time between two runs (the RPO a schedule implies), the shortest (the
// interval a job's deadlines must fit in), the local times a daylight-saving
// change skips, and deadlines that fit. It is pure: no policy, no
// Kubernetes objects, no clock; the calendar it looks at is a fixed cycle of
// years.
package schedule

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zones resolve on hosts without a zoneinfo database too

	"github.com/robfig/cron/v3"
)

// parser reads schedules the way Kubernetes does (5 fields or a descriptor
// such as @daily); `odbackup vet` has already rejected others.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cycleStart and cycleYears bound the calendar looked at: from 2001 to
// 2100 the calendar (weekdays, month lengths, leap years) repeats every 28
// years, so any 28 of them hold every case. These are years to come, so the
// daylight-saving rules are the zone's current ones.
var cycleStart = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

const cycleYears = 28

var cycleEnd = cycleStart.AddDate(cycleYears, 0, 0)

// Location loads an IANA time zone.
func Location(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// Gaps is what a schedule's runs leave between them, in real (elapsed)
// time, in one time zone.
type Gaps struct {
	// RPO is the longest time between two consecutive runs: the
	// worst-case data-loss window.
	RPO time.Duration
	// Interval is the shortest time from one run to the next one the
	// schedule means. The second run of a local hour that a fall-back
	// change repeats is not counted: it comes an hour after the first,
	// and a job still running then only makes the controller skip it.
	Interval time.Duration
	// Runs is false when the schedule never runs (e.g. "0 0 30 2 *").
	Runs bool
}

// Analyze computes a schedule's gaps in loc. It first measures them on
// the wall clock (as if the zone had no daylight-saving time), then
// measures, with the cron library in loc, the gaps that contain an offset
// change of the zone (each kind of change once, see changeGaps): a spring-forward change shortens a gap by the change
// or, for a run in the skipped hour, drops the run; a fall-back change
// lengthens it. The RPO is the longest of both, the interval the shortest
// (an upper and a lower bound: exact unless every longest wall-clock gap
// also contains a spring-forward change, which overstates the RPO by at
// most that change).
//
// A site asks about the same schedule several times (its CronJob's
// deadlines, its alert, its coverage RPO) and a batch of sites asks about
// the same few schedules thousands of times, while one analysis walks 28
// years of offset changes: results are kept per schedule and zone, which
// took three quarters of BenchmarkEmit.
func Analyze(spec string, loc *time.Location) (Gaps, error) {
	key := analysisKey{spec, loc.String()}
	if cached, ok := analysisCache.Load(key); ok {
		a := cached.(analysis)
		return a.gaps, a.err
	}
	g, err := analyze(spec, loc)
	analysisCache.Store(key, analysis{g, err})
	return g, err
}

type analysisKey struct{ spec, zone string }

type analysis struct {
	gaps Gaps
	err  error
}

var analysisCache sync.Map // analysisKey -> analysis

func analyze(spec string, loc *time.Location) (Gaps, error) {
	parsed, err := parser.Parse(spec)
	if err != nil {
		return Gaps{}, err
	}
	switch s := parsed.(type) {
	case cron.ConstantDelaySchedule:
		// @every counts elapsed time, not the wall clock.
		return Gaps{RPO: s.Delay, Interval: s.Delay, Runs: true}, nil
	case *cron.SpecSchedule:
		g, ok := wallGaps(*s)
		if !ok {
			return Gaps{}, nil
		}
		local := *s
		local.Location = loc
		return changeGaps(&local, g, transitions(loc), weekly(*s)), nil
	}
	return Gaps{}, fmt.Errorf("schedule %q: unsupported kind of schedule", spec)
}

// weekly says whether a schedule repeats every week on the wall clock: it
// names no day of the month and no month.
func weekly(s cron.SpecSchedule) bool { return allBits(s.Dom, 1, 31) && allBits(s.Month, 1, 12) }

// changeGaps widens the wall-clock gaps g by the gaps around each offset
// change of the schedule's zone (see Analyze). The last run before a change
// is at most two wall-clock gaps and the change before it (a run in the
// skipped hour is dropped), so looking back two gaps and two days finds it.
//
// A schedule that repeats weekly meets the same runs, at the same elapsed
// times, at every change that comes at the same local weekday and time with
// the same offsets and no other change near it: such a change is measured
// once (Europe/Berlin's 56 changes in the cycle are 2 cases). In a batch,
// where sites stagger their minutes and few schedules are alike, measuring
// all of them took a tenth of the build. The first and last change of the
// cycle are always measured, as changes outside the cycle are not known
// here.
func changeGaps(local *cron.SpecSchedule, g Gaps, trs []transition, weekly bool) Gaps {
	wallRPO := g.RPO
	back := 2*wallRPO + 48*time.Hour
	type wallChange struct {
		weekday              time.Weekday
		clock, offset, delta time.Duration
	}
	measured := map[wallChange]bool{}
	for i, tr := range trs {
		isolated := i > 0 && i < len(trs)-1 &&
			tr.at.Sub(trs[i-1].at) > 2*back && trs[i+1].at.Sub(tr.at) > 2*back
		if weekly && isolated {
			before := tr.at.Add(-time.Second).In(local.Location)
			_, offset := before.Zone()
			k := wallChange{before.Weekday(), clock(before), time.Duration(offset) * time.Second, tr.delta}
			if measured[k] {
				continue
			}
			measured[k] = true
		}
		prev, next, ok := runsAround(local, tr.at, wallRPO, back)
		if !ok {
			continue
		}
		gap := next.Sub(prev)
		g.RPO = max(g.RPO, gap)
		if tr.delta > 0 {
			g.Interval = min(g.Interval, gap)
		}
	}
	return g
}

// clock is the time of day of t on its wall clock.
func clock(t time.Time) time.Duration {
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
}

// wallGaps splits a schedule into its times of day (the minute and hour
// fields, the same on every day it runs) and the days it runs on, so that
// even an every-minute schedule costs one step per day: a gap is either
// between two times of one day, or from the last run of one run day to the
// first run of the next.
func wallGaps(s cron.SpecSchedule) (Gaps, bool) {
	s.Location = time.UTC // the wall clock: no offset changes
	var times []time.Duration
	for h := range 24 {
		for m := range 60 {
			if s.Hour&(1<<h) != 0 && s.Minute&(1<<m) != 0 {
				times = append(times, time.Duration(h)*time.Hour+time.Duration(m)*time.Minute)
			}
		}
	}
	if len(times) == 0 {
		return Gaps{}, false
	}
	longestDay, shortestDay, ok := dayGaps(s)
	if !ok {
		return Gaps{}, false
	}
	span := times[len(times)-1] - times[0]
	g := Gaps{RPO: longestDay - span, Interval: shortestDay - span, Runs: true}
	for i := 1; i < len(times); i++ {
		g.RPO = max(g.RPO, times[i]-times[i-1])
		g.Interval = min(g.Interval, times[i]-times[i-1])
	}
	return g, true
}

// dayGaps are the longest and shortest time between two consecutive days
// the schedule runs on. A schedule that names no day of the month and no
// month repeats weekly; others repeat with the calendar, and walking the
// 28 years of a monthly drill's days was half of the analysis in a batch,
// where sites stagger their times but pick from a few days: the answer
// depends on the day fields alone and is kept per day fields.
func dayGaps(s cron.SpecSchedule) (longest, shortest time.Duration, ok bool) {
	key := runDays{s.Dom, s.Month, s.Dow}
	if cached, found := dayGapsCache.Load(key); found {
		d := cached.(dayGapsResult)
		return d.longest, d.shortest, d.ok
	}
	// Any time of day gives the same days; midnight is one.
	s.Hour, s.Minute, s.Second = 1<<0, 1<<0, 1<<0
	longest, shortest, ok = walkDays(s)
	dayGapsCache.Store(key, dayGapsResult{longest, shortest, ok})
	return longest, shortest, ok
}

// runDays are the fields of a schedule that say which days it runs on.
type runDays struct{ dom, month, dow uint64 }

type dayGapsResult struct {
	longest, shortest time.Duration
	ok                bool
}

var dayGapsCache sync.Map // runDays -> dayGapsResult

// walkDays is dayGaps, computed: the days a schedule runs on, walked with
// the cron library over a week or the cycle.
func walkDays(s cron.SpecSchedule) (longest, shortest time.Duration, ok bool) {
	end := cycleStart.AddDate(0, 0, 14)
	if !weekly(s) {
		end = cycleEnd
	}
	var prev time.Time
	// Next returns the first run after t; from the last second of a run
	// day, that is the first run of the next run day. The run on or after
	// the end of the cycle is the wrap-around to its start.
	for t := cycleStart.Add(-time.Second); ; {
		next := s.Next(t)
		if next.IsZero() { // no run within five years
			return 0, 0, false
		}
		day := time.Date(next.Year(), next.Month(), next.Day(), 0, 0, 0, 0, time.UTC)
		if !prev.IsZero() {
			d := day.Sub(prev)
			longest = max(longest, d)
			if shortest == 0 || d < shortest {
				shortest = d
			}
		}
		if !day.Before(end) {
			return longest, shortest, true
		}
		prev = day
		t = day.AddDate(0, 0, 1).Add(-time.Second)
	}
}

func allBits(field uint64, from, to int) bool {
	for i := from; i <= to; i++ {
		if field&(1<<i) == 0 {
			return false
		}
	}
	return true
}

// runsAround finds, with the cron library, the last run at or before at
// and the run after it, looking back at most back. Every call to Next walks
// the calendar in the zone, and every time it reads beyond the zone file's
// last transition re-reads the zone's rule (Go's tzset): with a bisection
// over the whole window alone, one build spent a quarter of its time here.
// So it looks back near first: from the schedule's longest wall-clock gap
// (guess), where the last run almost always is, doubling the distance
// until a run is in it, and then walks the few runs up to at. A schedule
// with many runs in that distance (runs every hour on weekdays, a gap of a
// weekend) gives way to the bisection after forwardSteps runs. The answer
// is the same whichever way it is found: the last run at or before at, if
// there is one within back.
func runsAround(s *cron.SpecSchedule, at time.Time, guess, back time.Duration) (prev, next time.Time, ok bool) {
	for w := min(max(guess, time.Minute), back); ; w = min(2*w, back) {
		run := s.Next(at.Add(-w))
		if !run.IsZero() && !run.After(at) {
			return walkRuns(s, run, at, w)
		}
		if w == back {
			return time.Time{}, time.Time{}, false
		}
	}
}

// walkRuns walks from run, a run within window before at, to the last run
// at or before at.
func walkRuns(s *cron.SpecSchedule, run, at time.Time, window time.Duration) (prev, next time.Time, ok bool) {
	for range forwardSteps {
		after := s.Next(run)
		if after.IsZero() {
			return time.Time{}, time.Time{}, false
		}
		if after.After(at) {
			return run, after, true
		}
		run = after
	}
	return runsAroundBisect(s, at, window)
}

// forwardSteps bounds walkRuns: runsAround starts about one longest gap
// before at, which holds a run or two of most schedules.
const forwardSteps = 8

// runsAroundBisect is runsAround by bisection alone. Next is monotonic, so
// the earliest start whose next run is still at or before at is found in
// about log2(back in seconds) calls.
func runsAroundBisect(s *cron.SpecSchedule, at time.Time, back time.Duration) (prev, next time.Time, ok bool) {
	first := s.Next(at.Add(-back))
	if first.IsZero() || first.After(at) {
		return time.Time{}, time.Time{}, false
	}
	lo, hi := int64(0), int64(back/time.Second) // Next(at-lo) > at, Next(at-hi) <= at
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if n := s.Next(at.Add(-time.Duration(mid) * time.Second)); !n.IsZero() && !n.After(at) {
			hi = mid
		} else {
			lo = mid
		}
	}
	prev = s.Next(at.Add(-time.Duration(hi) * time.Second))
	next = s.Next(prev)
	if next.IsZero() {
		return time.Time{}, time.Time{}, false
	}
	return prev, next, true
}

// transition is a change of a zone's UTC offset: at is its instant, delta
// how far the clocks move (positive: forward, local times are skipped).
type transition struct {
	at    time.Time
	delta time.Duration
}

var transitionCache sync.Map // zone name -> []transition

// transitions lists the offset changes of loc within the cycle, found by
// comparing offsets a day apart and bisecting to the second.
func transitions(loc *time.Location) []transition {
	if cached, ok := transitionCache.Load(loc.String()); ok {
		return cached.([]transition)
	}
	offset := func(t time.Time) int { _, off := t.In(loc).Zone(); return off }
	var trs []transition
	for day := cycleStart; day.Before(cycleEnd); day = day.Add(24 * time.Hour) {
		next := day.Add(24 * time.Hour)
		before, after := offset(day), offset(next)
		if before == after {
			continue
		}
		lo, hi := day, next // offset(lo) == before, offset(hi) != before
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
			if offset(mid) == before {
				lo = mid
			} else {
				hi = mid
			}
		}
		trs = append(trs, transition{at: hi, delta: time.Duration(offset(hi)-before) * time.Second})
	}
	transitionCache.Store(loc.String(), trs)
	return trs
}

// SkippedRun returns the first local time within the cycle at which the
// schedule names a run that loc does not have, a time inside a
// spring-forward gap (02:30 on the last Sunday of March in Europe/Berlin),
// and no other run of the schedule takes its place: the cron library, like
// the CronJob controller, never runs it, and a daily job has no run that
// night. A run that another follows as soon as the clocks have moved (an
// hourly job's 02:05, followed by 03:05 an hour after 01:05) loses
// nothing and is not reported. @every schedules count elapsed time and
// skip nothing.
func SkippedRun(spec string, loc *time.Location) (local string, skipped bool, err error) {
	parsed, err := parser.Parse(spec)
	if err != nil {
		return "", false, err
	}
	s, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return "", false, nil
	}
	wall := *s
	wall.Location = time.UTC // runs as wall-clock times, gap or not
	for _, g := range skippedRanges(loc) {
		n := wall.Next(g.from.Add(-time.Second))
		if n.IsZero() || !n.Before(g.to) {
			continue
		}
		// The clocks jump by the gap's length; a run at or before the
		// skipped one moved by that much takes its place.
		if after := wall.Next(g.to.Add(-time.Second)); after.IsZero() || after.After(n.Add(g.to.Sub(g.from))) {
			return n.Format("2006-01-02 15:04"), true, nil
		}
	}
	return "", false, nil
}

// wallRange is a range of local wall-clock times, written as UTC times.
type wallRange struct{ from, to time.Time }

// skippedRanges are the local times loc skips within the cycle.
func skippedRanges(loc *time.Location) []wallRange {
	var rs []wallRange
	for _, tr := range transitions(loc) {
		if tr.delta <= 0 {
			continue
		}
		// The wall clock just before the change, read as if it were UTC.
		before := tr.at.Add(-time.Second).In(loc)
		from := time.Date(before.Year(), before.Month(), before.Day(), before.Hour(), before.Minute(), before.Second(), 0, time.UTC).Add(time.Second)
		rs = append(rs, wallRange{from: from, to: from.Add(tr.delta)})
	}
	return rs
}

// SkippedMinutes are the minutes of the day (0 to 1439) that loc skips on
// some day of the cycle: a daily job at one of them misses a night.
func SkippedMinutes(loc *time.Location) []int {
	set := map[int]bool{}
	for _, r := range skippedRanges(loc) {
		for t := r.from; t.Before(r.to); t = t.Add(time.Minute) {
			set[t.Hour()*60+t.Minute()] = true
		}
	}
	minutes := make([]int, 0, len(set))
	for m := range set {
		minutes = append(minutes, m)
	}
	sort.Ints(minutes)
	return minutes
}

// AvoidSkipped moves a daily job's minute of the day out of loc's skipped
// local times, staying inside the window of windowMinutes that starts at
// windowStart (minutes of the day) where it can: by whole hours first,
// so that jobs spread over the window stay spread, later before earlier;
// else to the first minute after it that is not skipped. A minute that is
// not skipped is returned as it is.
func AvoidSkipped(minute, windowStart, windowMinutes int, loc *time.Location) int {
	skipped := map[int]bool{}
	for _, m := range SkippedMinutes(loc) {
		skipped[m] = true
	}
	if !skipped[minute] {
		return minute
	}
	offset := ((minute-windowStart)%1440 + 1440) % 1440
	for hours := 1; hours*60 < windowMinutes; hours++ {
		for _, o := range []int{offset + hours*60, offset - hours*60} {
			if m := (windowStart + o) % 1440; o >= 0 && o < windowMinutes && !skipped[m] {
				return m
			}
		}
	}
	for i := 1; i < 1440; i++ {
		if m := (minute + i) % 1440; !skipped[m] {
			return m
		}
	}
	return minute // a zone that skips the whole day does not exist
}

// Deadlines fits a CronJob's deadlines to its interval (the shortest time
// between two runs): a start missed by more than a quarter of the
// interval, and never more than maxStart, waits for the next run; a run
// may take at most maxActive, and never longer than is left of the
// interval after the latest start, so a hung run is stopped before the
// next one is due instead of making the controller skip it
// (concurrencyPolicy: Forbid). Both are whole seconds.
func Deadlines(interval, maxStart, maxActive time.Duration) (start, active time.Duration) {
	start = min(maxStart, interval/4).Truncate(time.Second)
	active = min(maxActive, interval-start).Truncate(time.Second)
	return start, active
}

// Format writes a duration as days, hours and minutes: "1d", "4h",
// "2d 16h", "1h 30m".
func Format(d time.Duration) string {
	var parts []string
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.unit
		}
	}
	if len(parts) == 0 {
		return "0m"
	}
	return strings.Join(parts, " ")
}
