package generator

import (
	"fmt"
	"time"

	"github.com/odbackup/odbackup/generator/schedule"
)

// jobDeadlines are a CronJob's starting and active deadlines in seconds:
// the defaults (startingDeadlineSeconds, and maxActiveSeconds for its kind),
// shortened to fit the shortest interval of its schedule in the site's time
// zone (see schedule.Deadlines), so that an hourly job that hangs is
// stopped before its next run instead of swallowing it.
func jobDeadlines(spec, timeZone string, maxActiveSeconds int64) (start, active int64, err error) {
	loc, err := schedule.Location(timeZone)
	if err != nil {
		return 0, 0, err
	}
	g, err := schedule.Analyze(spec, loc)
	if err != nil {
		return 0, 0, err
	}
	if !g.Runs {
		return 0, 0, fmt.Errorf("schedule %q never runs", spec)
	}
	s, a := schedule.Deadlines(g.Interval, startingDeadlineSeconds*time.Second, time.Duration(maxActiveSeconds)*time.Second)
	return int64(s / time.Second), int64(a / time.Second), nil
}
