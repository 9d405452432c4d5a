package coverage

import (
	"testing"
	"time"
)

// The schedule package has the cases; this is the site's time zone
// reaching it.
func TestRPO(t *testing.T) {
	for _, tt := range []struct {
		zone string
		want time.Duration
	}{{"Etc/UTC", 24 * time.Hour}, {"Europe/Berlin", 25 * time.Hour}} {
		if got, ok, err := RPO("25 3 * * *", tt.zone); err != nil || !ok || got != tt.want {
			t.Errorf("RPO(daily, %s) = %v, %v, %v; want %v", tt.zone, got, ok, err, tt.want)
		}
	}
	if _, _, err := RPO("0 0 * *", "Etc/UTC"); err == nil {
		t.Error("RPO of a 4-field schedule: no error")
	}
	if _, _, err := RPO("0 0 * * *", "Mars/Olympus_Mons"); err == nil {
		t.Error("RPO in an unknown time zone: no error")
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
