package coverage

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/odbackup/odbackup/generator/plan"
)

// CoverageDiffSchemaVersion names the shape of `odbackup coverage --base
// --format json`.
const CoverageDiffSchemaVersion = "odbackup.coverage-diff/v1"

// CoverageDiff is what a change of policy does to a site's coverage: the
// changes store by store, for a merge-request comment.
type CoverageDiff struct {
	SchemaVersion string `json:"schemaVersion"`
	Site          string `json:"site"`
	// Base names what the change is compared with, as the user gave it.
	Base string `json:"base"`
	// SiteChanges are changes of the whole site: edition, release, time
	// zone, distribution.
	SiteChanges []string         `json:"siteChanges"`
	Changes     []CoverageChange `json:"changes"`
	BaseTotals  CoverageTotals   `json:"baseTotals"`
	Totals      CoverageTotals   `json:"totals"`
	// Gate is the head's gate, with the lost coverage that fails it.
	Gate *CoverageGate `json:"gate,omitempty"`
}

// CoverageChange is one change of one store.
type CoverageChange struct {
	Store   string     `json:"store"`
	Content string     `json:"content"`
	Kind    ChangeKind `json:"kind"`
	Effect  Effect     `json:"effect"`
	// Detail says from what to what, in words.
	Detail string `json:"detail"`
	// Hint says what to do about it, where the change alone is not clear.
	Hint string `json:"hint,omitempty"`
	// Fails marks lost coverage that fails the gate.
	Fails bool `json:"fails,omitempty"`
}

// ChangeKind is what changed about a store.
type ChangeKind string

// The kinds of change, in the order the diff lists a store's changes.
const (
	ChangeLostCoverage          ChangeKind = "lost-coverage"
	ChangeNewlyWaived           ChangeKind = "newly-waived"
	ChangeNewlyCovered          ChangeKind = "newly-covered"
	ChangeWaiverExtended        ChangeKind = "waiver-extended"
	ChangeWaiverShortened       ChangeKind = "waiver-shortened"
	ChangeWaiverChanged         ChangeKind = "waiver-changed"
	ChangeRPOWeakened           ChangeKind = "rpo-weakened"
	ChangeRPOStrengthened       ChangeKind = "rpo-strengthened"
	ChangeScheduleChanged       ChangeKind = "schedule-changed"
	ChangeRetentionWeakened     ChangeKind = "retention-weakened"
	ChangeRetentionStrengthened ChangeKind = "retention-strengthened"
	ChangeRetentionChanged      ChangeKind = "retention-changed"
	ChangeMethodChanged         ChangeKind = "method-changed"
	ChangeTargetChanged         ChangeKind = "target-changed"
	ChangeCronJobChanged        ChangeKind = "cronjob-changed"
	ChangeStatusChanged         ChangeKind = "status-changed"
	ChangeAdded                 ChangeKind = "added"
	ChangeRemoved               ChangeKind = "removed"
)

// Words is the kind as the diff writes it.
func (k ChangeKind) Words() string {
	switch k {
	case ChangeRPOWeakened:
		return "RPO weakened"
	case ChangeRPOStrengthened:
		return "RPO strengthened"
	case ChangeCronJobChanged:
		return "CronJob changed"
	}
	return strings.ReplaceAll(string(k), "-", " ")
}

// Effect is whether a change protects the store more or less.
type Effect string

// The effects, most urgent first.
const (
	EffectWorse   Effect = "worse"
	EffectBetter  Effect = "better"
	EffectNeutral Effect = "neutral"
)

var effectOrder = map[Effect]int{EffectWorse: 0, EffectBetter: 1, EffectNeutral: 2}

// CompareCoverage lists what changed from base to head, store by store.
// Lost coverage fails (Fails) only where nothing but the policy's text
// changed: a required store that was backed up and is gone from the
// policy while its app still runs there. An app turned off, or a store of
// another edition or release, is listed as lost coverage without failing:
// the change says so itself, and the reviewer sees it here.
func CompareCoverage(base, head Coverage, baseLabel string) CoverageDiff {
	d := CoverageDiff{
		SchemaVersion: CoverageDiffSchemaVersion, Site: head.Site, Base: baseLabel,
		SiteChanges: []string{}, Changes: []CoverageChange{},
		BaseTotals: base.Totals, Totals: head.Totals,
	}
	siteChange := func(what, from, to string) {
		if from != to {
			d.SiteChanges = append(d.SiteChanges, fmt.Sprintf("%s: %s → %s", what, orNone(from), orNone(to)))
		}
	}
	siteChange("site", base.Site, head.Site)
	siteChange("distribution", base.Distribution, head.Distribution)
	siteChange("edition", base.Edition, head.Edition)
	siteChange("release", base.Release, head.Release)
	siteChange("namespace", base.Namespace, head.Namespace)
	siteChange("time zone", base.TimeZone, head.TimeZone)

	baseStores, headStores := storeIndex(base), storeIndex(head)
	ids := map[string]bool{}
	for id := range baseStores {
		ids[id] = true
	}
	for id := range headStores {
		ids[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		b, h := baseStores[id], headStores[id]
		var app *CoverageApp
		if h.store == nil {
			app = headApp(head, b.app.ID)
		}
		changes := compareStore(b, h, app)
		if b.store != nil && h.store != nil && b.store.Status != h.store.Status && base.Release != head.Release {
			// A release bump adds and removes stores; say so, so a
			// reviewer tells them from a change of the policy.
			for i := range changes {
				switch {
				case b.store.Status == CoverageOtherRelease:
					changes[i].Detail = fmt.Sprintf("new in openDesk %s; %s", head.Release, changes[i].Detail)
				case h.store.Status == CoverageOtherRelease:
					changes[i].Detail = fmt.Sprintf("not in openDesk %s; %s", head.Release, changes[i].Detail)
				}
			}
		}
		d.Changes = append(d.Changes, changes...)
	}
	sortChanges(d.Changes)
	return d
}

// sortChanges puts the stores whose changes fail the gate first, then
// those that lost protection, then those that gained, then the rest; a
// store's changes stay together, in the order of the kinds.
func sortChanges(changes []CoverageChange) {
	rank := map[string]int{}
	for _, c := range changes {
		r := effectOrder[c.Effect] + 2
		switch {
		case c.Fails:
			r = 0
		case c.Kind == ChangeLostCoverage || c.Kind == ChangeNewlyWaived:
			r = 1
		}
		if old, ok := rank[c.Store]; !ok || r < old {
			rank[c.Store] = r
		}
	}
	kindOrder := func(k ChangeKind) int { return slices.Index(changeKinds, k) }
	slices.SortStableFunc(changes, func(x, y CoverageChange) int {
		return cmp.Or(cmp.Compare(rank[x.Store], rank[y.Store]), cmp.Compare(x.Store, y.Store), cmp.Compare(kindOrder(x.Kind), kindOrder(y.Kind)))
	})
}

// changeKinds are the kinds in the order a store's changes are listed.
var changeKinds = []ChangeKind{
	ChangeLostCoverage, ChangeNewlyWaived, ChangeNewlyCovered, ChangeWaiverExtended, ChangeWaiverShortened,
	ChangeWaiverChanged, ChangeRPOWeakened, ChangeRPOStrengthened, ChangeScheduleChanged, ChangeRetentionWeakened,
	ChangeRetentionStrengthened, ChangeRetentionChanged, ChangeMethodChanged, ChangeTargetChanged,
	ChangeCronJobChanged, ChangeStatusChanged, ChangeAdded, ChangeRemoved,
}

// groupChanges splits sorted changes into runs of one store each.
func groupChanges(changes []CoverageChange) [][]CoverageChange {
	var groups [][]CoverageChange
	for i, c := range changes {
		if i == 0 || c.Store != changes[i-1].Store {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], c)
	}
	return groups
}

// groupMarker is the most urgent effect of one store's changes, as
// marked by marks (with fail for a change that fails the gate).
func groupMarker(group []CoverageChange, marks map[Effect]string, fail string) string {
	best := group[0]
	for _, c := range group {
		if c.Fails {
			return fail
		}
		if effectOrder[c.Effect] < effectOrder[best.Effect] {
			best = c
		}
	}
	return marks[best.Effect]
}

// changeCount says how many changes to how many stores.
func changeCount(changes []CoverageChange) string {
	n, stores := len(changes), len(groupChanges(changes))
	switch {
	case n == 0:
		return "no change"
	case n == 1:
		return "1 change"
	case stores == 1:
		return fmt.Sprintf("%d changes to 1 store", n)
	}
	return fmt.Sprintf("%d changes to %d stores", n, stores)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func storeIndex(c Coverage) map[string]appStore {
	m := map[string]appStore{}
	for _, as := range c.stores() {
		m[as.store.ID] = as
	}
	return m
}

func headApp(c Coverage, id string) *CoverageApp {
	for i := range c.Apps {
		if c.Apps[i].ID == id {
			return &c.Apps[i]
		}
	}
	return nil
}

// compareStore compares one store; b or h is empty when the store is only
// in the other. app is the head's app of a store that is only in base.
func compareStore(b, h appStore, app *CoverageApp) []CoverageChange {
	var out []CoverageChange
	st := h.store
	if st == nil {
		st = b.store
	}
	add := func(kind ChangeKind, effect Effect, format string, args ...any) {
		out = append(out, CoverageChange{Store: st.ID, Content: st.Content, Kind: kind, Effect: effect, Detail: fmt.Sprintf(format, args...)})
	}
	switch {
	case b.store == nil:
		switch h.store.Status {
		case CoverageCovered:
			add(ChangeNewlyCovered, EffectBetter, "new store")
		case CoverageWaived:
			add(ChangeNewlyWaived, EffectWorse, "new store, %s", waiverWords(h.store.Waiver))
		default:
			add(ChangeAdded, EffectNeutral, "new store, %s", statusWithWhy(h.store))
		}
		return out
	case h.store == nil:
		if b.store.Status != CoverageCovered {
			add(ChangeRemoved, EffectNeutral, "no longer listed; was %s", b.store.Status.Words())
			return out
		}
		hint := ""
		switch {
		case !b.app.Extra:
			add(ChangeLostCoverage, EffectWorse, "no longer in the catalog of this odbackup")
		case app == nil:
			add(ChangeLostCoverage, EffectWorse, "its app %s is no longer in the policy", b.app.Name)
			hint = fmt.Sprintf("if the app is gone, turn it off first (apps.%s.deployed: false), so that the loss of its backups is on record", b.app.ID)
		case !app.Deployed:
			add(ChangeLostCoverage, EffectWorse, "no longer in the policy; %s is not deployed", app.Name)
		default:
			add(ChangeLostCoverage, EffectWorse, "no longer in the policy, while %s still runs", app.Name)
			hint = fmt.Sprintf("to leave it without backup, keep it in extraApps.%s.stores and waive it (waiver: {reason, expires})", app.ID)
		}
		last := &out[len(out)-1]
		last.Hint = hint
		last.Fails = b.store.Class == "required" && b.app.Extra && (app == nil || app.Deployed)
		return out
	}
	bs, hs := b.store, h.store
	bc, hc := bs.Status == CoverageCovered, hs.Status == CoverageCovered
	switch {
	case !bc && hc:
		add(ChangeNewlyCovered, EffectBetter, "was %s", bs.Status.Words())
	case hs.Status == CoverageWaived && bs.Status != CoverageWaived:
		add(ChangeNewlyWaived, EffectWorse, "was %s; %s", bs.Status.Words(), waiverWords(hs.Waiver))
	case bc && !hc:
		add(ChangeLostCoverage, EffectWorse, "now %s", statusWithWhy(hs))
	case bs.Status != hs.Status:
		add(ChangeStatusChanged, EffectNeutral, "%s → %s", bs.Status.Words(), statusWithWhy(hs))
	case bs.Status == CoverageWaived:
		out = append(out, compareWaivers(st, bs, hs)...)
	case bc:
		out = append(out, compareBackups(st, bs, hs)...)
	}
	return out
}

func statusWithWhy(st *CoverageStore) string {
	if st.Why == "" {
		return st.Status.Words()
	}
	return st.Status.Words() + ": " + st.Why
}

func compareWaivers(st *CoverageStore, b, h *CoverageStore) []CoverageChange {
	bw, hw := b.Waiver, h.Waiver
	if bw == nil || hw == nil {
		return nil
	}
	c := CoverageChange{Store: st.ID, Content: st.Content}
	switch {
	case hw.Expires > bw.Expires:
		c.Kind, c.Effect = ChangeWaiverExtended, EffectWorse
	case hw.Expires < bw.Expires:
		c.Kind, c.Effect = ChangeWaiverShortened, EffectBetter
	case *hw != *bw:
		c.Kind, c.Effect = ChangeWaiverChanged, EffectNeutral
	default:
		return nil
	}
	c.Detail = fmt.Sprintf("until %s → %s", bw.Expires, waiverTerms(hw))
	return []CoverageChange{c}
}

// compareBackups compares the backups of a store covered in both: RPO
// (or, at the same RPO, the schedule), retention per method, methods,
// targets and CronJobs.
func compareBackups(st *CoverageStore, b, h *CoverageStore) []CoverageChange {
	var out []CoverageChange
	add := func(kind ChangeKind, effect Effect, detail string) {
		out = append(out, CoverageChange{Store: st.ID, Content: st.Content, Kind: kind, Effect: effect, Detail: detail})
	}
	// A store's backups run in one job: they share schedule and RPO.
	bb0, hb0 := b.Backups[0], h.Backups[0]
	brpo, bok := b.RPO()
	hrpo, hok := h.RPO()
	rpo := fmt.Sprintf("%s → %s (%q → %q)", bb0.rpoWords(), hb0.rpoWords(), bb0.Schedule, hb0.Schedule)
	switch {
	case bok && (!hok || hrpo > brpo):
		add(ChangeRPOWeakened, EffectWorse, rpo)
	case hok && (!bok || hrpo < brpo):
		add(ChangeRPOStrengthened, EffectBetter, rpo)
	case bb0.Schedule != hb0.Schedule:
		add(ChangeScheduleChanged, EffectNeutral, fmt.Sprintf("%q → %q, same RPO %s", bb0.Schedule, hb0.Schedule, hb0.rpoWords()))
	}
	for _, hb := range h.Backups {
		i := slices.IndexFunc(b.Backups, func(x CoverageBackup) bool { return x.Method == hb.Method })
		if i < 0 {
			continue
		}
		bb := b.Backups[i]
		detail := fmt.Sprintf("%s: %s → %s", hb.Method, bb.Retention, hb.Retention)
		switch c, mixed := plan.CompareKept(bb.Retention, hb.Retention); {
		case mixed:
			add(ChangeRetentionChanged, EffectNeutral, detail)
		case c > 0:
			add(ChangeRetentionStrengthened, EffectBetter, detail)
		case c < 0:
			add(ChangeRetentionWeakened, EffectWorse, detail)
		}
		if bb.Target != hb.Target {
			add(ChangeTargetChanged, EffectNeutral, fmt.Sprintf("%s: %s → %s", hb.Method, orNone(bb.Target), orNone(hb.Target)))
		}
	}
	methods := func(bs []CoverageBackup) string {
		return strings.Join(fieldList(bs, func(x CoverageBackup) string { return string(x.Method) }), ", ")
	}
	if bm, hm := methods(b.Backups), methods(h.Backups); bm != hm {
		add(ChangeMethodChanged, EffectNeutral, bm+" → "+hm)
	}
	cronJobs := func(bs []CoverageBackup) string {
		return strings.Join(slices.Compact(fieldList(bs, func(x CoverageBackup) string { return x.CronJob })), ", ")
	}
	if bj, hj := cronJobs(b.Backups), cronJobs(h.Backups); bj != hj {
		add(ChangeCronJobChanged, EffectNeutral, bj+" → "+hj)
	}
	return out
}

func fieldList(bs []CoverageBackup, f func(CoverageBackup) string) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = f(b)
	}
	return out
}

// WithLostCoverage adds the changes that fail the gate to a gate's problems.
func (d *CoverageDiff) WithLostCoverage(g CoverageGate) {
	var lost []CoverageNote
	for _, c := range d.Changes {
		if c.Fails {
			lost = append(lost, CoverageNote{Store: c.Store, Content: c.Content,
				Message: "required and backed up in the base, but " + c.Detail})
		}
	}
	g.Problems = append(lost, g.Problems...)
	if g.Problems == nil {
		g.Problems = []CoverageNote{}
	}
	d.Gate = &g
}

func (c CoverageChange) detailAndHint() string {
	if c.Hint == "" {
		return c.Detail
	}
	return c.Detail + "; " + c.Hint
}
