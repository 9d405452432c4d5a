package schema

import "testing"

// A restore stops the workload that writes a claim: the store's own app's
// first, else a deployed app's of that name; an app that is off has none.
func TestSiteWorkload(t *testing.T) {
	app := func(id string, deployed bool, ws ...Workload) *SiteApp {
		return &SiteApp{App: &App{ID: id}, Deployed: deployed, Workloads: ws}
	}
	site := &Site{Apps: []*SiteApp{
		app("a", true, Workload{Kind: "Deployment", Name: "shared"}),
		app("b", true, Workload{Kind: "StatefulSet", Name: "shared"}, Workload{Kind: "StatefulSet", Name: "only-b"}),
		app("c", false, Workload{Kind: "StatefulSet", Name: "only-c"}),
	}}
	for _, c := range []struct {
		app, name, kind string
	}{
		{"b", "shared", "StatefulSet"}, // its own app first
		{"a", "shared", "Deployment"},
		{"a", "only-b", "StatefulSet"}, // another deployed app
		{"a", "only-c", ""},            // an app that is off
		{"c", "only-c", "StatefulSet"}, // its own app, even when off
		{"a", "nowhere", ""},
	} {
		w := site.Workload(c.app, c.name)
		got := ""
		if w != nil {
			got = w.Kind
		}
		if got != c.kind {
			t.Errorf("Workload(%q, %q) = %q, want %q", c.app, c.name, got, c.kind)
		}
	}
}
