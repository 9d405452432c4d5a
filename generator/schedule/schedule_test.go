package schedule

import (
	"fmt"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

const day = 24 * time.Hour

func mustLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := Location(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// mustSpec parses a five-field schedule as Analyze does.
func mustSpec(t *testing.T, spec string) cron.SpecSchedule {
	t.Helper()
	parsed, err := parser.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return *parsed.(*cron.SpecSchedule)
}

func TestAnalyzeUTC(t *testing.T) {
	utc := mustLocation(t, "Etc/UTC")
	tests := []struct {
		schedule      string
		rpo, interval time.Duration
		runs          bool
	}{
		{"37 2 * * *", day, day, true},
		{"@daily", day, day, true},
		{"5 * * * *", time.Hour, time.Hour, true},
		{"*/5 * * * *", 5 * time.Minute, 5 * time.Minute, true},
		{"* * * * *", time.Minute, time.Minute, true},
		{"0 */4 * * *", 4 * time.Hour, 4 * time.Hour, true},
		// Twice a day, unevenly: the night gap is the longer one.
		{"0 6,18 * * *", 12 * time.Hour, 12 * time.Hour, true},
		{"0 1,7 * * *", 18 * time.Hour, 6 * time.Hour, true},
		// Weekdays only: Friday evening to Monday morning.
		{"0 9-17 * * 1-5", 64 * time.Hour, time.Hour, true},
		{"15 12 * * 6", 7 * day, 7 * day, true},
		{"0 0 1 * *", 31 * day, 28 * day, true},
		// The 31st exists in 7 months: May 31 to July 31 is 61 days.
		{"0 0 31 * *", 61 * day, 31 * day, true},
		{"0 0 1 1 *", 366 * day, 365 * day, true},
		// February 29 comes every 4 years within the cycle.
		{"0 3 29 2 *", (3*365 + 366) * day, (3*365 + 366) * day, true},
		// Day of month OR day of week: every Sunday and every 15th.
		{"0 0 15 * 0", 7 * day, day, true},
		{"@every 90m", 90 * time.Minute, 90 * time.Minute, true},
		{"0 0 30 2 *", 0, 0, false},
	}
	for _, tt := range tests {
		got, err := Analyze(tt.schedule, utc)
		want := Gaps{RPO: tt.rpo, Interval: tt.interval, Runs: tt.runs}
		if err != nil || got != want {
			t.Errorf("Analyze(%q, UTC) = %+v, %v; want %+v", tt.schedule, got, err, want)
		}
	}
	if _, err := Analyze("0 0 * *", utc); err == nil {
		t.Error("Analyze of a 4-field schedule: no error")
	}
}

// In a zone with daylight-saving time, a daily job's gap is 23 hours in
// spring and 25 in autumn; a job in the skipped hour misses a night.
func TestAnalyzeDaylightSaving(t *testing.T) {
	berlin := mustLocation(t, "Europe/Berlin")
	newYork := mustLocation(t, "America/New_York")
	tests := []struct {
		schedule      string
		loc           *time.Location
		rpo, interval time.Duration
	}{
		{"25 3 * * *", berlin, 25 * time.Hour, 23 * time.Hour},
		{"5 * * * *", berlin, time.Hour, time.Hour},
		{"0 */4 * * *", berlin, 5 * time.Hour, 3 * time.Hour},
		// Saturday 02:30 CET to Monday 02:30 CEST.
		{"30 2 * * *", berlin, 47 * time.Hour, 24 * time.Hour},
		{"30 2 * * *", newYork, 47 * time.Hour, 24 * time.Hour},
		// Weekly on Saturday: the weeks around the changes.
		{"15 12 * * 6", berlin, 7*day + time.Hour, 7*day - time.Hour},
		{"@every 90m", berlin, 90 * time.Minute, 90 * time.Minute},
	}
	for _, tt := range tests {
		got, err := Analyze(tt.schedule, tt.loc)
		want := Gaps{RPO: tt.rpo, Interval: tt.interval, Runs: true}
		if err != nil || got != want {
			t.Errorf("Analyze(%q, %s) = %+v, %v; want %+v", tt.schedule, tt.loc, got, err, want)
		}
	}
}

// TestAnalyzeAgainstLibrary walks every run of two years with the cron
// library in the zone and compares the longest and shortest gaps with
// Analyze, which looks at far fewer runs.
func TestAnalyzeAgainstLibrary(t *testing.T) {
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "Etc/UTC"} {
		loc := mustLocation(t, zone)
		for _, spec := range []string{"25 3 * * *", "7 * * * *", "0 */4 * * *", "0 1,7 * * *", "0 9-17 * * 1-5", "30 5 * * 0", "10 0 1 * *"} {
			parsed, err := cron.ParseStandard("CRON_TZ=" + zone + " " + spec)
			if err != nil {
				t.Fatal(err)
			}
			var longest, shortest time.Duration
			from := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
			prev := parsed.Next(from)
			for n := parsed.Next(prev); n.Before(from.AddDate(2, 0, 0)); prev, n = n, parsed.Next(n) {
				if n.Format(time.DateTime) == prev.Format(time.DateTime) {
					continue // the second run of an hour autumn repeats
				}
				d := n.Sub(prev)
				longest = max(longest, d)
				if shortest == 0 || d < shortest {
					shortest = d
				}
			}
			got, err := Analyze(spec, loc)
			if err != nil || got.RPO != longest || got.Interval != shortest {
				t.Errorf("Analyze(%q, %s) = %+v, %v; the library's runs of 2026-2027: longest %v, shortest %v",
					spec, zone, got, err, longest, shortest)
			}
		}
	}
}

func TestSkippedRun(t *testing.T) {
	tests := []struct {
		schedule, zone, want string
	}{
		{"30 2 * * *", "Europe/Berlin", "2025-03-30 02:30"},
		{"0 2 * * 0", "Europe/Berlin", "2025-03-30 02:00"},
		{"59 2 * * *", "Europe/Berlin", "2025-03-30 02:59"},
		{"30 2 * * *", "America/New_York", "2025-03-09 02:30"},
		{"30 1 * * *", "Europe/London", "2025-03-30 01:30"},
		{"0 3 * * *", "Europe/Berlin", ""},
		{"59 1 * * *", "Europe/Berlin", ""},
		// Mondays only: Europe's changes are on Sundays.
		{"30 2 * * 1", "Europe/Berlin", ""},
		// The hour that autumn repeats is not skipped.
		{"30 2 * * *", "Etc/UTC", ""},
		{"30 2 * 10-12 *", "Europe/Berlin", ""},
		{"@every 1h", "Europe/Berlin", ""},
		// 03:05 follows 01:05 an hour later: nothing is lost.
		{"5 * * * *", "Europe/Berlin", ""},
		{"*/5 * * * *", "Europe/Berlin", ""},
		{"0 2,3 * * *", "Europe/Berlin", ""},
		{"30 2,4 * * *", "Europe/Berlin", "2025-03-30 02:30"},
	}
	for _, tt := range tests {
		loc := mustLocation(t, tt.zone)
		got, skipped, err := SkippedRun(tt.schedule, loc)
		if err != nil || got != tt.want || skipped != (tt.want != "") {
			t.Errorf("SkippedRun(%q, %s) = %q, %v, %v; want %q", tt.schedule, tt.zone, got, skipped, err, tt.want)
		}
	}
}

// TestSkippedRunIsSkippedByLibrary proves the premise with the library the
// CronJob controller uses: a job at 02:30 Europe/Berlin has no run on the
// night of the spring change, and one at 03:30 has.
func TestSkippedRunIsSkippedByLibrary(t *testing.T) {
	berlin := mustLocation(t, "Europe/Berlin")
	saturday := time.Date(2026, 3, 28, 12, 0, 0, 0, berlin)
	for spec, want := range map[string]time.Time{
		"30 2 * * *": time.Date(2026, 3, 30, 2, 30, 0, 0, berlin), // Monday: Sunday's run is lost
		"30 3 * * *": time.Date(2026, 3, 29, 3, 30, 0, 0, berlin),
	} {
		s, err := cron.ParseStandard("CRON_TZ=Europe/Berlin " + spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Next(saturday.Add(12 * time.Hour)); !got.Equal(want) {
			t.Errorf("%q: next run after Saturday night is %v, want %v", spec, got, want)
		}
		_, skipped, _ := SkippedRun(spec, berlin)
		if skipped != (want.Day() == 30) {
			t.Errorf("SkippedRun(%q) = %v", spec, skipped)
		}
	}
}

func TestAvoidSkipped(t *testing.T) {
	berlin := mustLocation(t, "Europe/Berlin")
	utc := mustLocation(t, "Etc/UTC")
	tests := []struct {
		minute, start, length int
		loc                   *time.Location
		want                  int
	}{
		{2*60 + 25, 60, 240, berlin, 3*60 + 25},   // an hour later, still in the window
		{2*60 + 25, 60, 120, berlin, 1*60 + 25},   // the window ends at 03:00: an hour earlier
		{2*60 + 25, 120, 60, berlin, 3 * 60},      // a window of the skipped hour: just after it
		{3*60 + 25, 60, 240, berlin, 3*60 + 25},   // not skipped
		{2*60 + 25, 60, 240, utc, 2*60 + 25},      // no daylight-saving time
		{2*60 + 10, 22*60 + 30, 360, berlin, 190}, // a window across midnight
	}
	for _, tt := range tests {
		if got := AvoidSkipped(tt.minute, tt.start, tt.length, tt.loc); got != tt.want {
			t.Errorf("AvoidSkipped(%d, %d, %d, %s) = %d, want %d", tt.minute, tt.start, tt.length, tt.loc, got, tt.want)
		}
	}
	if got := SkippedMinutes(berlin); len(got) != 60 || got[0] != 120 || got[59] != 179 {
		t.Errorf("SkippedMinutes(Europe/Berlin) = %v, want 120..179", got)
	}
}

func TestDeadlines(t *testing.T) {
	tests := []struct {
		interval, start, active time.Duration
	}{
		{day, 30 * time.Minute, 6 * time.Hour},
		{23 * time.Hour, 30 * time.Minute, 6 * time.Hour},
		{time.Hour, 15 * time.Minute, 45 * time.Minute},
		{3 * time.Hour, 30 * time.Minute, 150 * time.Minute},
		{time.Minute, 15 * time.Second, 45 * time.Second},
	}
	for _, tt := range tests {
		start, active := Deadlines(tt.interval, 30*time.Minute, 6*time.Hour)
		if start != tt.start || active != tt.active || start+active > tt.interval {
			t.Errorf("Deadlines(%v) = %v, %v; want %v, %v", tt.interval, start, active, tt.start, tt.active)
		}
	}
}

// TestRunsAroundWalkMatchesBisection checks runsAround, which looks back
// near first and walks forward, against a bisection over the whole window,
// at offset changes of three zones and at instants that fall on a run,
// just before one and just after, from first guesses too short (the window
// doubles), about right and too long (the walk gives way to the bisection).
func TestRunsAroundWalkMatchesBisection(t *testing.T) {
	specs := []string{"25 3 * * *", "30 2 * * *", "* * * * *", "7 * * * *", "0 */4 * * *",
		"0 9-17 * * 1-5", "15 12 * * 6", "46 22 5 * *", "0 0 31 * *", "0 3 29 2 *", "0 0 30 2 *"}
	for _, zone := range []string{"Europe/Berlin", "America/New_York", "Australia/Sydney"} {
		loc := mustLocation(t, zone)
		for _, spec := range specs {
			s := mustSpec(t, spec)
			s.Location = loc
			back := 2*31*day + 48*time.Hour
			var instants []time.Time
			for _, tr := range transitions(loc)[:6] {
				instants = append(instants, tr.at, tr.at.Add(-time.Second))
			}
			if n := s.Next(time.Date(2026, 5, 1, 0, 0, 0, 0, loc)); !n.IsZero() {
				instants = append(instants, n, n.Add(-time.Second), n.Add(time.Second))
			}
			for _, at := range instants {
				p2, n2, ok2 := runsAroundBisect(&s, at, back)
				for _, guess := range []time.Duration{0, time.Minute, time.Hour, 23 * time.Hour, day, 7 * day, 31 * day, back} {
					p1, n1, ok1 := runsAround(&s, at, guess, back)
					if !p1.Equal(p2) || !n1.Equal(n2) || ok1 != ok2 {
						t.Errorf("%q in %s at %v, looking back %v first: walk %v %v %v, bisection %v %v %v",
							spec, zone, at, guess, p1, n1, ok1, p2, n2, ok2)
					}
				}
			}
		}
	}
}

// TestChangeGapsMeasuresAlikeChangesOnce checks that measuring each kind of
// offset change once gives the gaps of measuring every change, for weekly
// schedules at many times of day and schedules that are not weekly, in zones
// whose changes differ: spring and autumn in either hemisphere, half an
// hour (Lord Howe), two hours (Troll), changes a month apart around
// Ramadan (Casablanca), at midnight (Santiago, Havana) and none (Tokyo).
// In the current rules of every zone the offset before a change decides
// its weekday and time of day, so no zone here tells a key without them
// from changeGaps' (a rule of fixed dates would), nor shows a change near
// another one within a weekly schedule's window.
func TestChangeGapsMeasuresAlikeChangesOnce(t *testing.T) {
	specs := []string{"0 */4 * * *", "7 * * * *", "0 9-17 * * 1-5", "30 5 * * 0", "15 12 * * 6", "45 23 * * 6", "0 0 * * 0",
		"10 0 1 * *", "0 3 * 3,10 0", "30 2 * 1-6 *"}
	for h := range 24 {
		specs = append(specs, fmt.Sprintf("%d %d * * *", (h*17)%60, h), fmt.Sprintf("%d %d * * %d", (h*29)%60, h, h%7))
	}
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Antarctica/Troll",
		"Africa/Casablanca", "America/Santiago", "America/Havana", "Asia/Tokyo"}
	for _, zone := range zones {
		loc := mustLocation(t, zone)
		for _, spec := range specs {
			s := mustSpec(t, spec)
			wall, ok := wallGaps(s)
			if !ok {
				t.Fatalf("%q never runs", spec)
			}
			s.Location = loc
			once := changeGaps(&s, wall, transitions(loc), weekly(s))
			every := changeGaps(&s, wall, transitions(loc), false)
			if once != every {
				t.Errorf("%q in %s: alike changes measured once %+v, every change %+v", spec, zone, once, every)
			}
		}
	}
}

// TestDayGapsKeptPerDays checks that day gaps kept per day fields are those
// walked for every schedule, whatever its time of day, with schedules that
// share some of the day fields and differ in another.
func TestDayGapsKeptPerDays(t *testing.T) {
	for _, spec := range []string{"0 1 * * 1-5", "59 23 * * 0", "0 0 15 * 0", "30 12 * * 0", "7 3 15 * *", "0 0 15 2 *",
		"5 4 31 * *", "0 0 29 2 *", "0 22 1,15 * *", "0 0 30 2 *", "0 1 * * 1-5", "0 0 15 * 0", "0 0 1-31 * 0"} {
		s := mustSpec(t, spec)
		s.Location = time.UTC
		l1, s1, ok1 := dayGaps(s)
		l2, s2, ok2 := walkDays(s)
		if l1 != l2 || s1 != s2 || ok1 != ok2 {
			t.Errorf("%q: kept %v %v %v, walked %v %v %v", spec, l1, s1, ok1, l2, s2, ok2)
		}
	}
}
