package coverage

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads schedules the way Kubernetes does (5 fields or a
// descriptor such as @daily); `odbackup vet` has already rejected others.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// rpoCycleStart and rpoCycleYears bound the calendar RPO looks at when a
// schedule names days of the month or months: from 2001 on, the calendar
// (weekdays, month lengths, leap years) repeats every 28 years until 2100.
var rpoCycleStart = time.Date(2001, time.January, 1, 0, 0, 0, 0, time.UTC)

const rpoCycleYears = 28

// RPO is the worst-case data-loss window a cron schedule implies: the
// longest time between two consecutive runs over a whole cycle of the
// calendar. It is computed on wall-clock time in UTC, so it is the same on
// every machine; a daylight-saving change can add or take an hour twice a
// year. ok is false when the schedule never runs (e.g. "0 0 30 2 *").
func RPO(schedule string) (rpo time.Duration, ok bool, err error) {
	parsed, err := cronParser.Parse(schedule)
	if err != nil {
		return 0, false, err
	}
	switch s := parsed.(type) {
	case cron.ConstantDelaySchedule:
		return s.Delay, true, nil
	case *cron.SpecSchedule:
		return specRPO(*s)
	}
	return 0, false, fmt.Errorf("schedule %q: unsupported kind of schedule", schedule)
}

// specRPO splits a schedule into its times of day (the minute and hour
// fields, the same on every day it runs) and the days it runs on, so that
// even an every-minute schedule costs one step per day: the longest gap is
// either between two times of one day, or from the last run of one run day
// to the first run of the next.
func specRPO(s cron.SpecSchedule) (time.Duration, bool, error) {
	// The parser defaults to the host's time zone; UTC keeps it
	// deterministic.
	s.Location = time.UTC
	var times []time.Duration
	for h := range 24 {
		for m := range 60 {
			if s.Hour&(1<<h) != 0 && s.Minute&(1<<m) != 0 {
				times = append(times, time.Duration(h)*time.Hour+time.Duration(m)*time.Minute)
			}
		}
	}
	if len(times) == 0 {
		return 0, false, nil
	}
	var longest time.Duration
	for i := 1; i < len(times); i++ {
		longest = max(longest, times[i]-times[i-1])
	}
	dayGap, ok := longestDayGap(s)
	if !ok {
		return 0, false, nil
	}
	return max(longest, dayGap-(times[len(times)-1]-times[0])), true, nil
}

// longestDayGap is the longest time between two consecutive days the
// schedule runs on. A schedule that names no day of the month and no month
// repeats weekly; others repeat with the calendar.
func longestDayGap(s cron.SpecSchedule) (time.Duration, bool) {
	end := rpoCycleStart.AddDate(0, 0, 14)
	if !allBits(s.Dom, 1, 31) || !allBits(s.Month, 1, 12) {
		end = rpoCycleStart.AddDate(rpoCycleYears, 0, 0)
	}
	var longest time.Duration
	var prev time.Time
	// Next returns the first run after t; from the last second of a run
	// day, that is the first run of the next run day. The run on or after
	// the end of the cycle is the wrap-around to its start.
	for t := rpoCycleStart.Add(-time.Second); ; {
		next := s.Next(t)
		if next.IsZero() { // no run within five years
			return 0, false
		}
		day := time.Date(next.Year(), next.Month(), next.Day(), 0, 0, 0, 0, time.UTC)
		if !prev.IsZero() {
			longest = max(longest, day.Sub(prev))
		}
		if !day.Before(end) {
			return longest, true
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

// FormatDuration writes a duration as days, hours and minutes: "1d",
// "4h", "2d 16h", "1h 30m".
func FormatDuration(d time.Duration) string {
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
