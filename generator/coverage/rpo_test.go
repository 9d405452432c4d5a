package coverage

import (
	"testing"
	"time"
)

func TestRPO(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		schedule string
		want     time.Duration
		ok       bool
	}{
		{"37 2 * * *", day, true},
		{"@daily", day, true},
		{"5 * * * *", time.Hour, true},
		{"*/5 * * * *", 5 * time.Minute, true},
		{"* * * * *", time.Minute, true},
		{"0 */4 * * *", 4 * time.Hour, true},
		// Twice a day, unevenly: the night gap is the longer one.
		{"0 6,18 * * *", 12 * time.Hour, true},
		{"0 1,7 * * *", 18 * time.Hour, true},
		// Weekdays only: Friday evening to Monday morning.
		{"0 9-17 * * 1-5", 64 * time.Hour, true},
		{"15 12 * * 6", 7 * day, true},
		{"0 0 1 * *", 31 * day, true},
		// The 31st exists in 7 months: May 31 to July 31 is 61 days.
		{"0 0 31 * *", 61 * day, true},
		{"0 0 1 1 *", 366 * day, true},
		// February 29 comes every 4 years within the cycle.
		{"0 3 29 2 *", (3*365 + 366) * day, true},
		// Day of month OR day of week: every Sunday and every 15th.
		{"0 0 15 * 0", 7 * day, true},
		{"@every 90m", 90 * time.Minute, true},
		{"0 0 30 2 *", 0, false},
	}
	for _, tt := range tests {
		got, ok, err := RPO(tt.schedule)
		if err != nil || got != tt.want || ok != tt.ok {
			t.Errorf("RPO(%q) = %v, %v, %v; want %v, %v", tt.schedule, got, ok, err, tt.want, tt.ok)
		}
	}
	if _, _, err := RPO("0 0 * *"); err == nil {
		t.Error("RPO of a 4-field schedule: no error")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24 * time.Hour:             "1d",
		64 * time.Hour:             "2d 16h",
		90 * time.Minute:           "1h 30m",
		61 * 24 * time.Hour:        "61d",
		5 * time.Minute:            "5m",
		0:                          "0m",
		90*time.Second + time.Hour: "1h 1m 30s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
