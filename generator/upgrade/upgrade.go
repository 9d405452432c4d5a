// Package upgrade owns what an openDesk release bump changes for one site:
// the stores and workloads that appear, disappear or change between the
// policy's release and the next, the decisions the site must make before its
// policy is valid there, and the coverage before and after. It renders that
// report as text, Markdown (for the merge request of the bump) and JSON.
//
// It is pure: it compares resolved sites and coverage reports that the CLI
// evaluated; it reads no files, prints nothing and reads no clock.
package upgrade

import (
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/odbackup/odbackup/generator/coverage"
	"github.com/odbackup/odbackup/schema"
)

// SchemaVersion names the shape of `odbackup upgrade --format json`.
const SchemaVersion = "odbackup.upgrade/v1"

// Change says what a release bump does to a store, a workload or an app.
type Change string

// The changes.
const (
	Appears    Change = "appears"
	Disappears Change = "disappears"
	Changes    Change = "changes"
)

// Report is what a release bump changes for one site.
type Report struct {
	SchemaVersion string `json:"schemaVersion"`
	Site          string `json:"site"`
	Distribution  string `json:"distribution"`
	Edition       string `json:"edition"`
	From          string `json:"from"`
	To            string `json:"to"`
	// Apps are the apps that start or stop running at the site because
	// of the bump (an app new in the release, one the release removes).
	Apps []AppChange `json:"apps"`
	// Stores are the stores of the site's deployed apps that the bump
	// adds, removes or changes.
	Stores []StoreChange `json:"stores"`
	// Workloads are the workloads a restore stops that the bump renames,
	// adds or removes.
	Workloads []WorkloadChange `json:"workloads"`
	// ReleaseKnown is whether the site's distribution has the new release
	// line at all; when it does not, nothing is compared and Decisions
	// say so.
	ReleaseKnown bool `json:"releaseKnown"`
	// Valid is whether the policy is valid at the new release as it is.
	Valid bool `json:"valid"`
	// Decisions are what `odbackup vet` says about the policy at the new
	// release, one problem each, as the CLI printed it (with positions).
	Decisions []string `json:"decisions"`
	// Coverage is the coverage at the old release compared with the new
	// one; nil when the policy is not valid at the new release.
	Coverage *coverage.CoverageDiff `json:"coverage,omitempty"`
}

// AppChange is one app that starts or stops running with the bump.
type AppChange struct {
	App    string `json:"app"`
	Name   string `json:"name"`
	Change Change `json:"change"`
}

// StoreChange is one store the bump adds, removes or changes.
type StoreChange struct {
	Store   string `json:"store"`
	Kind    string `json:"kind"`
	Class   string `json:"class"`
	Content string `json:"content"`
	Change  Change `json:"change"`
	// Status is what the site does with the store at the new release
	// ("backup", "undecided", ...; see schema.Status); for a store that
	// disappears, what it did at the old one.
	Status string `json:"status"`
	// Detail says what changed, in words.
	Detail string `json:"detail,omitempty"`
}

// WorkloadChange is one workload of an app that the bump adds, removes or
// changes.
type WorkloadChange struct {
	App    string `json:"app"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Change Change `json:"change"`
	Detail string `json:"detail,omitempty"`
}

// Compare lists what moving the site from its release to release to
// changes. next is the site evaluated at the new release, nil when the
// policy is not valid there.
func Compare(site *schema.Site, to string, next *schema.Site) Report {
	pol := site.Policy
	r := Report{
		SchemaVersion: SchemaVersion, Site: pol.Site, Distribution: site.Catalog.Distribution,
		Edition: pol.Edition, From: pol.Release, To: to,
		Apps: []AppChange{}, Stores: []StoreChange{}, Workloads: []WorkloadChange{}, Decisions: []string{},
		Valid: next != nil,
	}
	r.ReleaseKnown = slices.Contains(site.Catalog.Releases, schema.ReleaseLine(to))
	if !r.ReleaseKnown {
		return r
	}
	after := site.AppsAtRelease(to)
	if next != nil {
		after = next.Apps
	}
	afterByID := map[string]*schema.SiteApp{}
	for _, a := range after {
		afterByID[a.ID] = a
	}
	for _, old := range site.Apps {
		now := afterByID[old.ID]
		if now == nil || (!old.Deployed && !now.Deployed) {
			continue
		}
		switch {
		case !old.Deployed:
			r.Apps = append(r.Apps, AppChange{App: old.ID, Name: old.Name, Change: Appears})
		case !now.Deployed:
			r.Apps = append(r.Apps, AppChange{App: old.ID, Name: old.Name, Change: Disappears})
		}
		r.Stores = append(r.Stores, compareStores(old, now)...)
		if old.Deployed && now.Deployed {
			r.Workloads = append(r.Workloads, compareWorkloads(old, now)...)
		}
	}
	return r
}

// exists says whether a store is part of the site: its app runs and the
// store is in the site's edition and release.
func exists(st *schema.SiteStore) bool {
	switch st.Status {
	case schema.StatusOtherEdition, schema.StatusOtherRelease, schema.StatusNotDeployed:
		return false
	}
	return true
}

func compareStores(old, now *schema.SiteApp) []StoreChange {
	nowByID := map[string]*schema.SiteStore{}
	for _, st := range now.Stores {
		nowByID[st.ID] = st
	}
	var out []StoreChange
	for _, o := range old.Stores {
		n := nowByID[o.ID]
		if n == nil {
			continue
		}
		change := StoreChange{Store: o.ID, Kind: o.Kind, Class: n.Backup, Content: n.Content, Status: string(n.Status)}
		switch inOld, inNew := exists(o), exists(n); {
		case !inOld && inNew:
			change.Change = Appears
			change.Detail = appearsDetail(n)
		case inOld && !inNew:
			change.Change, change.Status, change.Class = Disappears, string(o.Status), o.Backup
			change.Detail = disappearsDetail(o, now)
		case inOld && inNew:
			details := storeDetails(o, n)
			if len(details) == 0 {
				continue
			}
			change.Change, change.Detail = Changes, strings.Join(details, "; ")
		default:
			continue
		}
		out = append(out, change)
	}
	return out
}

func appearsDetail(st *schema.SiteStore) string {
	switch st.Status {
	case schema.StatusBackup:
		return "backed up by default"
	case schema.StatusUndecided:
		return "optional: the policy must decide (backup: true or false)"
	case schema.StatusNever:
		return "needs no backup: " + st.Reason
	case schema.StatusWaived:
		return "waived by the policy"
	case schema.StatusOptedOut:
		return "the policy already opts out"
	}
	return string(st.Status)
}

func disappearsDetail(st *schema.SiteStore, now *schema.SiteApp) string {
	if !now.Deployed {
		return "its app does not run at the new release"
	}
	if st.Status == schema.StatusBackup {
		return "no longer in openDesk: its backups stop; restic keeps the existing snapshots until retention prunes them"
	}
	return "no longer in openDesk"
}

// storeDetails lists what differs between one store's resolved forms.
func storeDetails(o, n *schema.SiteStore) []string {
	var out []string
	if o.Backup != n.Backup {
		out = append(out, fmt.Sprintf("class %s → %s", o.Backup, n.Backup))
	}
	if o.Status != n.Status {
		out = append(out, fmt.Sprintf("status %s → %s", o.Status, n.Status))
	}
	if o.Identifier != n.Identifier {
		out = append(out, fmt.Sprintf("identifier %s → %s", o.Identifier, n.Identifier))
	}
	ov, nv := reflect.ValueOf(o.Connection), reflect.ValueOf(n.Connection)
	t := ov.Type()
	for i := range t.NumField() {
		if reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		out = append(out, fmt.Sprintf("connection.%s %s → %s", name, words(ov.Field(i).Interface()), words(nv.Field(i).Interface())))
	}
	return out
}

func words(v any) string {
	data, err := json.Marshal(v)
	if err != nil || string(data) == `""` || string(data) == "null" || string(data) == "0" {
		return "(none)"
	}
	return strings.Trim(string(data), `"`)
}

func compareWorkloads(old, now *schema.SiteApp) []WorkloadChange {
	index := func(ws []schema.Workload) map[string]schema.Workload {
		m := map[string]schema.Workload{}
		for _, w := range ws {
			m[w.Name] = w
		}
		return m
	}
	o, n := index(old.Workloads), index(now.Workloads)
	var out []WorkloadChange
	for name, w := range o {
		if nw, ok := n[name]; !ok {
			out = append(out, WorkloadChange{App: old.ID, Kind: w.Kind, Name: name, Change: Disappears, Detail: "a restore no longer stops it"})
		} else if nw.Kind != w.Kind || nw.Replicas != w.Replicas {
			out = append(out, WorkloadChange{App: old.ID, Kind: nw.Kind, Name: name, Change: Changes,
				Detail: fmt.Sprintf("%s with %d replicas → %s with %d", w.Kind, w.Replicas, nw.Kind, nw.Replicas)})
		}
	}
	for name, w := range n {
		if _, ok := o[name]; !ok {
			out = append(out, WorkloadChange{App: old.ID, Kind: w.Kind, Name: name, Change: Appears, Detail: "a restore stops it"})
		}
	}
	slices.SortFunc(out, func(a, b WorkloadChange) int {
		return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}
