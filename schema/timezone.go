package schema

import (
	_ "embed"
	"fmt"
	"strings"
	"time"
	// The API server checks a CronJob's timeZone against its own copy of
	// the IANA database; embedding Go's copy makes vet's answer the same on
	// machines without /usr/share/zoneinfo (CI images, distroless).
	_ "time/tzdata"
)

//go:generate sh -c "go run ./internal/tzlist \"$(go env GOROOT)/lib/time/zoneinfo.zip\" > timezones.txt"

// timeZones lists the IANA zone names of the embedded database, for
// did-you-mean suggestions; time.LoadLocation decides what is valid.
//
//go:embed timezones.txt
var timeZonesText string

var timeZones = strings.Fields(timeZonesText)

// timeZoneProblem explains why tz is not a time zone a CronJob accepts, or
// returns "".
func timeZoneProblem(tz string) string {
	if tz == "Local" {
		return `invalid time zone "Local": it means the zone of whichever machine reads it, and Kubernetes refuses it; name an IANA zone such as "Europe/Berlin"`
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "" {
		if best, ok := closest(tz, timeZones); ok {
			return fmt.Sprintf("unknown time zone %q (the IANA time zone database has no such zone); did you mean %q?", tz, best)
		}
		return fmt.Sprintf("unknown time zone %q: the IANA time zone database has no such zone; name one such as \"Europe/Berlin\" or \"Etc/UTC\"", tz)
	}
	return ""
}
