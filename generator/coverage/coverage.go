package coverage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
)

// CoverageSchemaVersion names the shape of coverage.json. Within v1 fields
// are only added; a field that changes meaning or disappears makes v2.
const CoverageSchemaVersion = "odbackup.coverage/v1"

// Coverage is a site's backup coverage: every store of its catalog (for
// every edition and release, so that a change of either shows) and of its
// own apps, with what protects it or why nothing does. It is what
// coverage.json holds and what `odbackup coverage --base` reads back.
type Coverage struct {
	SchemaVersion string `json:"schemaVersion"`
	Site          string `json:"site"`
	Distribution  string `json:"distribution"`
	Edition       string `json:"edition"`
	Release       string `json:"release"`
	Namespace     string `json:"namespace"`
	// TimeZone is the zone the CronJobs' schedules run in.
	TimeZone string         `json:"timeZone"`
	Totals   CoverageTotals `json:"totals"`
	// Apps are the catalog's apps, then the site's own, each group sorted
	// by id; apps without stores are left out.
	Apps []CoverageApp `json:"apps"`
	// Gate is set by `odbackup coverage` only: it depends on the date,
	// which coverage.json does not.
	Gate *CoverageGate `json:"gate,omitempty"`
}

// CoverageTotals counts the stores. Required* count the required stores of
// the site's deployed apps, in its edition and release.
type CoverageTotals struct {
	Stores          int                    `json:"stores"`
	ByStatus        map[CoverageStatus]int `json:"byStatus"`
	Required        int                    `json:"required"`
	RequiredCovered int                    `json:"requiredCovered"`
	RequiredWaived  int                    `json:"requiredWaived"`
	// SnapshotOnly counts covered stores whose only copy is a CSI snapshot
	// on the volume's own storage system.
	SnapshotOnly int `json:"snapshotOnly"`
	// SnapshotOnlyDecided counts those of them the policy keeps in
	// snapshots only on purpose (offsite: false on a required volume).
	SnapshotOnlyDecided int `json:"snapshotOnlyDecided"`
}

// CoverageApp is one app and its stores.
type CoverageApp struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Extra marks an app the site defined itself (extraApps).
	Extra    bool            `json:"extra"`
	Deployed bool            `json:"deployed"`
	Stores   []CoverageStore `json:"stores"`
}

// CoverageStore is one store: its catalog facts, its status and what
// protects it.
type CoverageStore struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Class is the catalog's backup class: required, optional or never.
	Class      string         `json:"class"`
	Content    string         `json:"content"`
	Identifier string         `json:"identifier"`
	Status     CoverageStatus `json:"status"`
	// Why says why a store that is not covered or waived goes without
	// backup: the catalog's reason, or why the store is not part of the
	// site.
	Why string `json:"why,omitempty"`
	// MayMatchNothing says why the store's wildcard may match no database
	// at run time: a backup that then stores nothing is expected.
	MayMatchNothing string `json:"mayMatchNothing,omitempty"`
	// Backups are the steps that back the store up (covered stores only).
	Backups []CoverageBackup `json:"backups,omitempty"`
	Waiver  *schema.Waiver   `json:"waiver,omitempty"`
	// Offsite says, for a covered store with CSI snapshots, whether a copy
	// leaves the storage system: "off-site", "snapshot-only-decided" (the
	// policy says offsite: false) or "snapshot-only".
	Offsite OffsiteStatus `json:"offsite,omitempty"`
}

// OffsiteStatus is whether a volume's backups leave its storage system.
type OffsiteStatus string

// The off-site statuses of a covered store with CSI snapshots.
const (
	OffsiteCopied       OffsiteStatus = "off-site"
	OffsiteDecidedNo    OffsiteStatus = "snapshot-only-decided"
	OffsiteSnapshotOnly OffsiteStatus = "snapshot-only"
)

// Words is how the report writes an off-site status.
func (o OffsiteStatus) Words() string {
	switch o {
	case OffsiteCopied:
		return "off-site"
	case OffsiteDecidedNo:
		return "snapshot only (decided)"
	}
	return "snapshot only"
}

// CoverageBackup is one method backing up one store.
type CoverageBackup struct {
	Method   plan.Method `json:"method"`
	CronJob  string      `json:"cronJob"`
	Schedule string      `json:"schedule"`
	// RPOMinutes is the longest gap between two runs of the schedule, the
	// worst-case data-loss window (see RPO); 0 with NeverRuns when the
	// schedule never runs.
	RPOMinutes int       `json:"rpoMinutes"`
	NeverRuns  bool      `json:"neverRuns,omitempty"`
	Retention  plan.Kept `json:"retention"`
	// Target is the policy's target name; empty for CSI snapshots, which
	// stay on the volume's storage system (SameStorage).
	Target      string `json:"target,omitempty"`
	SameStorage bool   `json:"sameStorage,omitempty"`
	// Drill is the restore drill that checks this backup: its CronJob and
	// schedule, or why it is off; nil when the method has no drill.
	Drill *CoverageDrill `json:"drill,omitempty"`
}

// CoverageDrill is a backup's restore drill.
type CoverageDrill struct {
	CronJob  string `json:"cronJob,omitempty"`
	Schedule string `json:"schedule,omitempty"`
	// Off is the site's reason for turning the app's drill off.
	Off string `json:"off,omitempty"`
}

// CoverageStatus is a store's status in the coverage report.
type CoverageStatus string

// The statuses, in the order the report lists them.
const (
	CoverageCovered      CoverageStatus = "covered"
	CoverageWaived       CoverageStatus = "waived"
	CoverageOptedOut     CoverageStatus = "opted-out"
	CoverageNever        CoverageStatus = "never"
	CoverageNotDeployed  CoverageStatus = "not-deployed"
	CoverageOtherEdition CoverageStatus = "other-edition"
	CoverageOtherRelease CoverageStatus = "other-release"
	// CoverageUnprotected is a required store without backup or waiver,
	// CoverageUndecided an optional one without a decision: only a policy
	// that `odbackup vet` rejects has them.
	CoverageUnprotected CoverageStatus = "unprotected"
	CoverageUndecided   CoverageStatus = "undecided"
)

// statusWords is a status and how the report writes it.
type statusWords struct {
	status CoverageStatus
	words  string
}

// coverageStatuses are the statuses in report order, with their words.
var coverageStatuses = []statusWords{
	{CoverageCovered, "covered"},
	{CoverageWaived, "waived"},
	{CoverageOptedOut, "opted out"},
	{CoverageNever, "never"},
	{CoverageNotDeployed, "app not deployed"},
	{CoverageOtherEdition, "other edition"},
	{CoverageOtherRelease, "other release"},
	{CoverageUnprotected, "unprotected"},
	{CoverageUndecided, "undecided"},
}

// Words is the status as the report writes it.
func (s CoverageStatus) Words() string {
	for _, c := range coverageStatuses {
		if c.status == s {
			return c.words
		}
	}
	return string(s)
}

var statusOf = map[schema.Status]CoverageStatus{
	schema.StatusBackup:       CoverageCovered,
	schema.StatusWaived:       CoverageWaived,
	schema.StatusOptedOut:     CoverageOptedOut,
	schema.StatusNever:        CoverageNever,
	schema.StatusNotDeployed:  CoverageNotDeployed,
	schema.StatusOtherEdition: CoverageOtherEdition,
	schema.StatusOtherRelease: CoverageOtherRelease,
	schema.StatusUnprotected:  CoverageUnprotected,
	schema.StatusUndecided:    CoverageUndecided,
}

// RPO is the store's worst-case data-loss window: the shortest of its
// backups' (they run in one job, so they share it); ok is false when no
// backup's schedule runs.
func (s *CoverageStore) RPO() (rpo time.Duration, ok bool) {
	for _, b := range s.Backups {
		if b.NeverRuns {
			continue
		}
		d := time.Duration(b.RPOMinutes) * time.Minute
		if !ok || d < rpo {
			rpo, ok = d, true
		}
	}
	return rpo, ok
}

// offsiteOf is a covered store's off-site status; "" for a store without
// CSI snapshots.
func offsiteOf(s *CoverageStore, decided bool) OffsiteStatus {
	if !slices.ContainsFunc(s.Backups, func(b CoverageBackup) bool { return b.SameStorage }) {
		return ""
	}
	switch {
	case !s.snapshotOnly():
		return OffsiteCopied
	case decided:
		return OffsiteDecidedNo
	}
	return OffsiteSnapshotOnly
}

// snapshotOnly reports whether every copy of a covered store stays on the
// volume's storage system.
func (s *CoverageStore) snapshotOnly() bool {
	if len(s.Backups) == 0 {
		return false
	}
	for _, b := range s.Backups {
		if !b.SameStorage {
			return false
		}
	}
	return true
}

// Label is how messages name a store: its id and what it holds.
func (s *CoverageStore) Label() string { return s.ID + " — " + s.Content }

// waiverWords is a waiver in one line.
func waiverWords(w *schema.Waiver) string { return "waived " + waiverTerms(w) }

// waiverTerms are a waiver's expiry, reason, approval and ticket.
func waiverTerms(w *schema.Waiver) string {
	s := fmt.Sprintf("until %s: %s", w.Expires, w.Reason)
	if w.ApprovedBy != "" {
		s += "; approved by " + w.ApprovedBy
	}
	if w.Ticket != "" {
		s += "; ticket " + w.Ticket
	}
	return s
}

// NewCoverage describes what a plan protects, store by store.
func NewCoverage(p *plan.Plan) (Coverage, error) {
	site, pol := p.Site, p.Site.Policy
	c := Coverage{
		SchemaVersion: CoverageSchemaVersion,
		Site:          pol.Site,
		Distribution:  pol.Distribution,
		Edition:       pol.Edition,
		Release:       pol.Release,
		Namespace:     pol.Namespace,
		TimeZone:      pol.Schedule.TimeZone,
		Apps:          []CoverageApp{},
	}
	steps := map[string][]*plan.Step{}
	for _, s := range p.Steps {
		steps[s.Store.ID] = append(steps[s.Store.ID], s)
	}
	for _, app := range site.Apps {
		if len(app.Stores) == 0 {
			continue
		}
		ca := CoverageApp{ID: app.ID, Name: app.Name, Extra: app.Extra, Deployed: app.Deployed}
		for _, st := range app.Stores {
			cs := CoverageStore{
				ID: st.ID, Kind: st.Kind, Class: st.Backup, Content: st.Content, Identifier: st.Identifier,
				Status: statusOf[st.Status], Why: why(site, app, st), Waiver: st.Decision.Waiver,
				MayMatchNothing: st.MayMatchNothing,
			}
			if st.Status != schema.StatusWaived {
				cs.Waiver = nil
			}
			for _, s := range steps[st.ID] {
				b, err := coverageBackup(s, pol.Schedule.TimeZone)
				if err != nil {
					return Coverage{}, err
				}
				if d := p.DrillOf(s); d != nil {
					b.Drill = &CoverageDrill{CronJob: d.Name, Schedule: d.Schedule}
				} else if off := p.DrillOffOf(s); off != nil {
					b.Drill = &CoverageDrill{Off: off.Reason}
				}
				cs.Backups = append(cs.Backups, b)
			}
			cs.Offsite = offsiteOf(&cs, st.SnapshotOnlyDecided(app))
			ca.Stores = append(ca.Stores, cs)
		}
		c.Apps = append(c.Apps, ca)
	}
	c.Totals = c.countTotals()
	return c, nil
}

func coverageBackup(s *plan.Step, timeZone string) (CoverageBackup, error) {
	rpo, runs, err := RPO(s.Job.Schedule, timeZone)
	if err != nil {
		return CoverageBackup{}, fmt.Errorf("CronJob %s: %w", s.Job.Name, err)
	}
	return CoverageBackup{
		Method: s.Method, CronJob: s.Job.Name, Schedule: s.Job.Schedule,
		RPOMinutes: int((rpo + time.Minute - 1) / time.Minute), NeverRuns: !runs,
		Retention: s.Kept, Target: s.TargetName, SameStorage: s.Kind.Traits().VolumeSnapshots,
	}, nil
}

// why explains a store that goes without backup.
func why(site *schema.Site, app *schema.SiteApp, st *schema.SiteStore) string {
	switch st.Status {
	case schema.StatusNever, schema.StatusOptedOut, schema.StatusUndecided:
		return st.Reason
	case schema.StatusOtherEdition:
		return "exists only in openDesk " + strings.ToUpper(strings.Join(st.Editions, " and "))
	case schema.StatusOtherRelease:
		return fmt.Sprintf("exists in openDesk %s, not in %s", strings.Join(st.Releases, ", "), site.ReleaseLine)
	case schema.StatusNotDeployed:
		if d := app.Settings.Deployed; d != nil && !*d {
			return fmt.Sprintf("%s is turned off (apps.%s.deployed: false)", app.Name, app.ID)
		}
		return fmt.Sprintf("%s is off by default (apps.%s.deployed: true turns it on)", app.Name, app.ID)
	case schema.StatusUnprotected:
		return "required, but backup: false without a waiver"
	}
	return ""
}

func (c *Coverage) countTotals() CoverageTotals {
	t := CoverageTotals{ByStatus: map[CoverageStatus]int{}}
	// The statuses of a valid policy are always counted, zeros included.
	for _, s := range coverageStatuses {
		if s.status != CoverageUnprotected && s.status != CoverageUndecided {
			t.ByStatus[s.status] = 0
		}
	}
	for _, app := range c.Apps {
		for i := range app.Stores {
			st := &app.Stores[i]
			t.Stores++
			t.ByStatus[st.Status]++
			if st.Class == "required" && app.Deployed && inSite(st.Status) {
				t.Required++
				switch st.Status {
				case CoverageCovered:
					t.RequiredCovered++
				case CoverageWaived:
					t.RequiredWaived++
				}
			}
			if st.Status == CoverageCovered && st.snapshotOnly() {
				t.SnapshotOnly++
				if st.Offsite == OffsiteDecidedNo {
					t.SnapshotOnlyDecided++
				}
			}
		}
	}
	return t
}

// inSite reports whether a store with the status exists at the site: its
// app runs, in the site's edition and release.
func inSite(s CoverageStatus) bool {
	switch s {
	case CoverageNotDeployed, CoverageOtherEdition, CoverageOtherRelease:
		return false
	}
	return true
}

// stores returns every store with its app, in report order.
func (c *Coverage) stores() []appStore {
	var out []appStore
	for i := range c.Apps {
		for j := range c.Apps[i].Stores {
			out = append(out, appStore{&c.Apps[i], &c.Apps[i].Stores[j]})
		}
	}
	return out
}

type appStore struct {
	app   *CoverageApp
	store *CoverageStore
}

// CoverageJSON writes a Coverage (coverage.json) or a CoverageDiff:
// indented, with a final newline, and without HTML escapes, so that it
// reads well in a diff.
func CoverageJSON[T Coverage | CoverageDiff](doc T) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ParseCoverage reads a coverage.json back. It accepts any odbackup.coverage/v1
// document (fields added later within v1 are ignored) and names what is
// wrong otherwise.
func ParseCoverage(data []byte) (Coverage, error) {
	var head struct {
		SchemaVersion *string `json:"schemaVersion"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Coverage{}, fmt.Errorf("not JSON: %v", err)
	}
	switch {
	case head.SchemaVersion == nil:
		return Coverage{}, fmt.Errorf("no schemaVersion: not a coverage.json written by odbackup")
	case *head.SchemaVersion != CoverageSchemaVersion:
		return Coverage{}, fmt.Errorf("schemaVersion is %q; this odbackup reads %q", *head.SchemaVersion, CoverageSchemaVersion)
	}
	var c Coverage
	if err := json.Unmarshal(data, &c); err != nil {
		return Coverage{}, fmt.Errorf("not a valid %s document: %v", CoverageSchemaVersion, err)
	}
	seen := map[string]bool{}
	for _, as := range c.stores() {
		id := as.store.ID
		if id == "" || seen[id] {
			return Coverage{}, fmt.Errorf("store id %q is empty or listed twice", id)
		}
		seen[id] = true
		if !slices.ContainsFunc(coverageStatuses, func(s statusWords) bool { return s.status == as.store.Status }) {
			return Coverage{}, fmt.Errorf("store %s has an unknown status %q", id, as.store.Status)
		}
	}
	return c, nil
}
