package coverage

import (
	"fmt"
	"time"
)

// CoverageGate is what `odbackup coverage` checks on a date: the problems
// that make it exit 1, and notices that only inform.
type CoverageGate struct {
	Today    string         `json:"today"`
	Problems []CoverageNote `json:"problems"`
	Notices  []CoverageNote `json:"notices"`
}

// CoverageNote is one finding about one store.
type CoverageNote struct {
	Store   string `json:"store"`
	Content string `json:"content"`
	Message string `json:"message"`
}

func (n CoverageNote) String() string { return n.Store + " — " + n.Content + ": " + n.Message }

func noteAbout(st *CoverageStore, format string, args ...any) CoverageNote {
	return CoverageNote{Store: st.ID, Content: st.Content, Message: fmt.Sprintf(format, args...)}
}

// waiverWarningDays is how long before its expiry a waiver is announced.
const waiverWarningDays = 30

// CheckCoverage finds what fails the gate on the date today (YYYY-MM-DD):
// a required store of a deployed app that is neither covered nor waived
// (a covered store whose schedule never runs counts as not covered), and a
// waiver that has expired; a waiver is valid through its expiry date.
// Waivers that expire within 30 days are notices.
func CheckCoverage(c Coverage, today string) (CoverageGate, error) {
	g := CoverageGate{Today: today, Problems: []CoverageNote{}, Notices: []CoverageNote{}}
	day, err := time.Parse(time.DateOnly, today)
	if err != nil {
		return g, fmt.Errorf("today: %q is not a date YYYY-MM-DD", today)
	}
	for _, as := range c.stores() {
		st := as.store
		_, runs := st.RPO()
		switch {
		case st.Status == CoverageCovered && !runs:
			note := noteAbout(st, "backed up in CronJob %s, but its schedule %q never runs", st.Backups[0].CronJob, st.Backups[0].Schedule)
			if st.Class == "required" {
				g.Problems = append(g.Problems, note)
			} else {
				g.Notices = append(g.Notices, note)
			}
		case st.Class == "required" && as.app.Deployed && inSite(st.Status) &&
			st.Status != CoverageCovered && st.Status != CoverageWaived:
			g.Problems = append(g.Problems, noteAbout(st, "required, but %s and not waived (%s)", st.Status.Words(), st.Why))
		case st.Status == CoverageCovered && st.Offsite == OffsiteDecidedNo:
			g.Notices = append(g.Notices, noteAbout(st, "kept in CSI snapshots only, by decision (offsite: false): %s", volumeWords(st)))
		case st.Status == CoverageWaived && st.Waiver != nil:
			expires, err := time.Parse(time.DateOnly, st.Waiver.Expires)
			if err != nil {
				g.Problems = append(g.Problems, noteAbout(st, "waiver has no valid expiry date (%q)", st.Waiver.Expires))
				continue
			}
			switch left := int(expires.Sub(day).Hours() / 24); {
			case left < 0:
				g.Problems = append(g.Problems, noteAbout(st, "waiver expired on %s (%s); back the store up or renew the waiver",
					st.Waiver.Expires, st.Waiver.Reason))
			case left == 0:
				g.Notices = append(g.Notices, noteAbout(st, "waiver expires today (%s)", st.Waiver.Expires))
			case left <= waiverWarningDays:
				g.Notices = append(g.Notices, noteAbout(st, "waiver expires on %s, in %s", st.Waiver.Expires, days(left)))
			}
		}
	}
	return g, nil
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
