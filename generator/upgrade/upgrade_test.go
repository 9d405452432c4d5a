package upgrade

import (
	"reflect"
	"testing"

	"github.com/odbackup/odbackup/schema"
)

// A release that renames the process writing a volume must show up: the
// restore would otherwise stop a workload that no longer exists.
func TestCompareWorkloads(t *testing.T) {
	app := func(ws ...schema.Workload) *schema.SiteApp {
		return &schema.SiteApp{App: &schema.App{ID: "element"}, Deployed: true, Workloads: ws}
	}
	old := app(
		schema.Workload{Kind: "StatefulSet", Name: "opendesk-synapse", Replicas: 1},
		schema.Workload{Kind: "Deployment", Name: "opendesk-element", Replicas: 1},
		schema.Workload{Kind: "Deployment", Name: "matrix-neodatefix-bot", Replicas: 1},
	)
	now := app(
		schema.Workload{Kind: "StatefulSet", Name: "synapse-main", Replicas: 1},
		schema.Workload{Kind: "Deployment", Name: "opendesk-element", Replicas: 1},
		schema.Workload{Kind: "StatefulSet", Name: "matrix-neodatefix-bot", Replicas: 1},
	)
	got := compareWorkloads(old, now)
	want := []WorkloadChange{
		{App: "element", Kind: "StatefulSet", Name: "matrix-neodatefix-bot", Change: Changes, Detail: "Deployment with 1 replicas → StatefulSet with 1"},
		{App: "element", Kind: "StatefulSet", Name: "opendesk-synapse", Change: Disappears, Detail: "a restore no longer stops it"},
		{App: "element", Kind: "StatefulSet", Name: "synapse-main", Change: Appears, Detail: "a restore stops it"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("compareWorkloads:\n got %+v\nwant %+v", got, want)
	}
}

// A store whose connection or class a release changes is listed with what
// changed, field by field.
func TestStoreDetails(t *testing.T) {
	store := func(class, claim, workload string) *schema.SiteStore {
		return &schema.SiteStore{Status: schema.StatusBackup, Store: &schema.Store{
			ID: "element/pvc/media", Kind: "pvc", Backup: class, Identifier: "media",
			Connection: schema.Connection{Claim: claim, Workload: workload},
		}}
	}
	got := storeDetails(store("required", "media-opendesk-synapse-0", "opendesk-synapse"), store("optional", "media-opendesk-synapse-0", "synapse-main"))
	want := []string{"class required → optional", "connection.workload opendesk-synapse → synapse-main"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("storeDetails:\n got %q\nwant %q", got, want)
	}
	if d := storeDetails(store("required", "a", "w"), store("required", "a", "w")); len(d) != 0 {
		t.Errorf("an unchanged store has details %q", d)
	}
}
