package preflight

import (
	"slices"
	"sort"

	"github.com/odbackup/odbackup/schema"
)

// Inventory is what a namespace holds of the kinds preflight checks: names
// only, and for Secrets and ConfigMaps their data keys. It never holds a
// value.
type Inventory struct {
	Namespace    string
	Claims       []string
	StatefulSets []string
	Deployments  []string
	CronJobs     []string
	Services     []string
	// Secrets and ConfigMaps map each name to its data keys (for
	// ConfigMaps data and binaryData), sorted.
	Secrets    map[string][]string
	ConfigMaps map[string][]string
}

// Counts are how many objects of each kind an inventory holds.
type Counts struct {
	Claims       int `json:"persistentVolumeClaims"`
	StatefulSets int `json:"statefulSets"`
	Deployments  int `json:"deployments"`
	CronJobs     int `json:"cronJobs"`
	Secrets      int `json:"secrets"`
	ConfigMaps   int `json:"configMaps"`
	Services     int `json:"services"`
}

// SchemaVersion names the shape of the JSON report.
const SchemaVersion = "odbackup.preflight/v1"

// Report is the result of a preflight: what is missing, which claims no
// store accounts for, and what preflight could not check.
type Report struct {
	SchemaVersion string `json:"schemaVersion"`
	Site          string `json:"site"`
	Namespace     string `json:"namespace"`
	Inventory     Counts `json:"inventory"`
	// Checked is the number of objects the site needs (a Secret with
	// three keys is one).
	Checked     int           `json:"checked"`
	Missing     []Missing     `json:"missing"`
	Unaccounted []Unaccounted `json:"unaccounted"`
	Unchecked   []Unchecked   `json:"unchecked"`
}

// OK says whether everything the site needs is there and every claim is
// accounted for.
func (r Report) OK() bool { return len(r.Missing) == 0 && len(r.Unaccounted) == 0 }

// Missing is an object the generated files need that the namespace lacks,
// or the keys it lacks of a Secret or ConfigMap that is there.
type Missing struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
	// Keys are the missing keys of a Secret or ConfigMap that exists; when
	// the object itself is missing, the keys the files need of it.
	Keys []string `json:"keys,omitempty"`
	// ObjectMissing is true when the object itself is not there.
	ObjectMissing bool `json:"objectMissing"`
	// HasKeys are the keys the Secret or ConfigMap has (names only).
	HasKeys []string `json:"hasKeys,omitempty"`
	Files   []string `json:"files"`
}

// Unaccounted is a claim of the namespace that no store of the site
// accounts for: data nobody decided about.
type Unaccounted struct {
	Claim string `json:"claim"`
	// Stores are stores that name the claim but decide nothing at this
	// site (their app is not deployed, or they belong to another edition
	// or release), with their status.
	Stores []StoreStatus `json:"stores,omitempty"`
}

// StoreStatus is a store and what the site does with it.
type StoreStatus struct {
	Store  string        `json:"store"`
	Status schema.Status `json:"status"`
}

// Check compares requirements with an inventory.
func Check(req Requirements, inv Inventory) Report {
	r := Report{
		SchemaVersion: SchemaVersion,
		Site:          req.Site,
		Namespace:     req.Namespace,
		Inventory: Counts{
			Claims: len(inv.Claims), StatefulSets: len(inv.StatefulSets), Deployments: len(inv.Deployments),
			CronJobs: len(inv.CronJobs), Secrets: len(inv.Secrets), ConfigMaps: len(inv.ConfigMaps), Services: len(inv.Services),
		},
		Checked:     countObjects(req.Required),
		Missing:     []Missing{},
		Unaccounted: []Unaccounted{},
		Unchecked:   req.Unchecked,
	}
	if r.Unchecked == nil {
		r.Unchecked = []Unchecked{}
	}
	names := map[Kind][]string{
		KindClaim: inv.Claims, KindStatefulSet: inv.StatefulSets, KindDeployment: inv.Deployments,
		KindCronJob: inv.CronJobs, KindService: inv.Services,
		KindWorkload: slices.Concat(inv.StatefulSets, inv.Deployments),
	}
	keyed := map[Kind]map[string][]string{KindSecret: inv.Secrets, KindConfigMap: inv.ConfigMaps}

	// Secrets and ConfigMaps: one finding per object, with its keys.
	byObject := map[[2]string]*Missing{}
	var order [][2]string
	for _, q := range req.Required {
		objects, isKeyed := keyed[q.Kind]
		if !isKeyed {
			if !slices.Contains(names[q.Kind], q.Name) {
				r.Missing = append(r.Missing, Missing{Kind: q.Kind, Name: q.Name, ObjectMissing: true, Files: q.Files})
			}
			continue
		}
		have, exists := objects[q.Name]
		if exists && (q.Key == "" || slices.Contains(have, q.Key)) {
			continue
		}
		id := [2]string{string(q.Kind), q.Name}
		m := byObject[id]
		if m == nil {
			m = &Missing{Kind: q.Kind, Name: q.Name, ObjectMissing: !exists}
			if exists {
				m.HasKeys = have
			}
			byObject[id] = m
			order = append(order, id)
		}
		if q.Key != "" {
			m.Keys = append(m.Keys, q.Key)
		}
		m.Files = append(m.Files, q.Files...)
	}
	for _, id := range order {
		m := byObject[id]
		m.Keys = sortedUnique(m.Keys)
		m.Files = sortedUnique(m.Files)
		r.Missing = append(r.Missing, *m)
	}
	sort.SliceStable(r.Missing, func(i, j int) bool {
		a, b := r.Missing[i], r.Missing[j]
		return a.Kind < b.Kind || a.Kind == b.Kind && a.Name < b.Name
	})

	for _, claim := range sortedUnique(inv.Claims) {
		var others []StoreStatus
		accounted := false
		for _, rule := range req.Claims {
			if !rule.Matches(claim) {
				continue
			}
			if rule.Accounts() {
				accounted = true
				break
			}
			others = append(others, StoreStatus{Store: rule.Store, Status: rule.Status})
		}
		if !accounted {
			r.Unaccounted = append(r.Unaccounted, Unaccounted{Claim: claim, Stores: others})
		}
	}
	return r
}

// countObjects counts the distinct objects of requirements.
func countObjects(req []Requirement) int {
	seen := map[[2]string]bool{}
	for _, q := range req {
		seen[[2]string{string(q.Kind), q.Name}] = true
	}
	return len(seen)
}
