package coverage

import (
	"time"

	"github.com/odbackup/odbackup/generator/schedule"
)

// RPO is the worst-case data-loss window a cron schedule implies in the
// site's time zone: the longest time between two consecutive runs over a
// whole cycle of the calendar, daylight-saving changes included (see
// schedule.Analyze). ok is false when the schedule never runs (e.g.
// "0 0 30 2 *").
func RPO(spec, timeZone string) (rpo time.Duration, ok bool, err error) {
	loc, err := schedule.Location(timeZone)
	if err != nil {
		return 0, false, err
	}
	g, err := schedule.Analyze(spec, loc)
	return g.RPO, g.Runs, err
}

// FormatDuration writes a duration as days, hours and minutes: "1d",
// "4h", "2d 16h", "1h 30m" (schedule.Format).
func FormatDuration(d time.Duration) string { return schedule.Format(d) }
