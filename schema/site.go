package schema

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Status is what a site does with one store of the catalog.
type Status string

// The statuses, from "protected" to "does not exist here".
const (
	StatusBackup       Status = "backup"        // backed up by a generated job
	StatusWaived       Status = "waived"        // required, left out by a waiver
	StatusOptedOut     Status = "opted-out"     // optional, the site said no
	StatusUndecided    Status = "undecided"     // optional, no decision yet (invalid)
	StatusUnprotected  Status = "unprotected"   // required, backup: false without waiver (invalid)
	StatusNever        Status = "never"         // the catalog says it needs no backup
	StatusNotDeployed  Status = "not-deployed"  // its app is off at this site
	StatusOtherEdition Status = "other-edition" // exists in the other edition only
	StatusOtherRelease Status = "other-release" // does not exist in the site's release
)

// Site is a validated policy with everything the generator needs resolved:
// which apps run, and what happens to each store.
type Site struct {
	// File is the policy's file name as given on the command line.
	File    string
	Policy  *Policy
	Catalog *Catalog
	// ReleaseLine is the policy's release without the patch: "v1.17".
	ReleaseLine string
	// Apps are the catalog's apps followed by the site's extra apps, each
	// group sorted by id.
	Apps []*SiteApp
}

// SiteApp is an app as this site has it.
type SiteApp struct {
	*App
	// Extra marks an app the site defined itself.
	Extra bool
	// Deployed is false when the app is off at the site, or does not exist
	// in its edition or release.
	Deployed bool
	Settings AppPolicy
	Stores   []*SiteStore
	// Workloads are the app's workloads in the site's edition and release.
	Workloads []Workload
}

// SiteStore is a catalog store with the site's decision applied and its
// connection resolved (catalog defaults, then site-wide services, then the
// store's own overrides).
type SiteStore struct {
	*Store
	Status   Status
	Decision StorePolicy
	// Offsite: a volume that is backed up is also copied off its storage
	// system (snapshot, clone, restic). See resolution.offsite.
	Offsite bool
}

// SnapshotOnlyDecided reports whether the policy keeps a required volume
// that is backed up in CSI snapshots only, on purpose (offsite: false on
// the store or its app).
func (s *SiteStore) SnapshotOnlyDecided(app *SiteApp) bool {
	return s.Kind == "pvc" && s.Backup == "required" && s.Status == StatusBackup && !s.Offsite && s.offsiteDecision(app) != nil
}

// offsiteDecision is the store's offsite setting, else its app's, else nil.
func (s *SiteStore) offsiteDecision(app *SiteApp) *bool {
	if s.Decision.Offsite != nil {
		return s.Decision.Offsite
	}
	return app.Settings.Offsite
}

// ReleaseLine returns "v1.17" for "v1.17" and "v1.17.2"; "" if invalid.
func ReleaseLine(release string) string {
	m := releaseRE.FindStringSubmatch(release)
	if m == nil {
		return ""
	}
	return m[1]
}

var releaseRE = regexp.MustCompile(`^(v1\.(?:17|18|19))(?:\.(?:0|[1-9][0-9]*))?$`)

// resolution is what classify needs to know about a site.
type resolution struct {
	catalog     *Catalog
	extra       map[string]*App
	edition     string
	releaseLine string
	apps        map[string]AppPolicy
	stores      map[string]StorePolicy
	services    Services
	// hasTarget: the policy defines a target, so volumes can go off-site.
	hasTarget bool
}

// resolveApps classifies every store of the catalog and the extra apps. It
// is shared by validation (which reports undecided and unprotected stores)
// and by Evaluate (which hands the result to the generator).
func (r resolution) resolveApps() []*SiteApp {
	var out []*SiteApp
	add := func(app *App, extra bool) {
		settings := r.apps[app.ID]
		release := settings.ReleaseName
		if release == "" {
			release = app.DefaultRelease
		}
		app = app.withRelease(release)
		sa := &SiteApp{App: app, Extra: extra, Settings: settings}
		applies := slices.Contains(app.Editions, r.edition) && slices.Contains(app.Releases, r.releaseLine)
		deployed := app.EnabledByDefault || extra
		if d := sa.Settings.Deployed; d != nil {
			deployed = *d
		}
		sa.Deployed = applies && deployed
		for _, w := range app.Workloads {
			if slices.Contains(w.Editions, r.edition) && slices.Contains(w.Releases, r.releaseLine) {
				sa.Workloads = append(sa.Workloads, w)
			}
		}
		for _, st := range app.SortedStores() {
			decision := r.stores[st.ID]
			// a copy: catalog stores are shared by every site of a batch.
			resolved := *st
			resolved.Connection = resolveConnection(st, r.services, decision.Connection)
			ss := &SiteStore{Store: &resolved, Decision: decision}
			ss.Status = r.classify(st, sa.Deployed, decision)
			ss.Offsite = r.offsite(ss, sa)
			sa.Stores = append(sa.Stores, ss)
		}
		out = append(out, sa)
	}
	if r.catalog != nil {
		for _, id := range r.catalog.AppIDs() {
			add(r.catalog.Apps[id], false)
		}
	}
	extraIDs := make([]string, 0, len(r.extra))
	for id := range r.extra {
		extraIDs = append(extraIDs, id)
	}
	sort.Strings(extraIDs)
	for _, id := range extraIDs {
		add(r.extra[id], true)
	}
	return out
}

func (r resolution) classify(st *Store, deployed bool, d StorePolicy) Status {
	switch {
	case !slices.Contains(st.Editions, r.edition):
		return StatusOtherEdition
	case !slices.Contains(st.Releases, r.releaseLine):
		return StatusOtherRelease
	case !deployed:
		return StatusNotDeployed
	}
	switch st.Backup {
	case "never":
		return StatusNever
	case "optional":
		switch {
		case d.Backup == nil:
			return StatusUndecided
		case *d.Backup:
			return StatusBackup
		default:
			return StatusOptedOut
		}
	default: // required
		switch {
		case d.Waiver != nil:
			return StatusWaived
		case d.Backup != nil && !*d.Backup:
			return StatusUnprotected
		default:
			return StatusBackup
		}
	}
}

// offsite decides whether a volume that is backed up is copied off-site:
// as the store or its app says, else for required volumes when the site has
// a target to copy to.
func (r resolution) offsite(st *SiteStore, app *SiteApp) bool {
	if st.Kind != "pvc" || st.Status != StatusBackup {
		return false
	}
	if d := st.offsiteDecision(app); d != nil {
		return *d
	}
	return st.Backup == "required" && r.hasTarget
}

// resolveConnection applies the site's service and store overrides to a
// store's catalog connection.
func resolveConnection(st *Store, services Services, override *Connection) Connection {
	c := st.Connection
	var hp HostPort
	switch st.Kind {
	case "postgresql":
		hp = services.PostgreSQL.HostPort
	case "mariadb":
		hp = services.MariaDB
	case "redis":
		hp = services.Redis
	case "cassandra":
		hp = services.Cassandra
	}
	if hp.Host != "" {
		c.Host = hp.Host
	}
	if hp.Port != 0 {
		c.Port = hp.Port
	}
	if o := override; o != nil {
		setIf(&c.Host, o.Host)
		if o.Port != 0 {
			c.Port = o.Port
		}
		setIf(&c.Database, o.Database)
		setIf(&c.User, o.User)
		setIf(&c.Bucket, o.Bucket)
		setIf(&c.AccessKeyID, o.AccessKeyID)
		setIf(&c.Claim, o.Claim)
		setIf(&c.Workload, o.Workload)
		setIf(&c.Pod, o.Pod)
		setIf(&c.Container, o.Container)
		setIf(&c.DataDir, o.DataDir)
		setIf(&c.Name, o.Name)
		if o.FSGroup != 0 {
			c.FSGroup = o.FSGroup
		}
		if o.RunAsUser != 0 {
			c.RunAsUser = o.RunAsUser
			c.RunAsRoot = false
		}
		if o.RunAsGroup != 0 {
			c.RunAsGroup = o.RunAsGroup
		}
		if st.Kind == "pvc" && (o.RunAsUser != 0 || o.RunAsGroup != 0 || o.FSGroup != 0) {
			c.Owner = fmt.Sprintf("set in the site's policy, stores.%q.connection", st.ID)
			if st.Connection.Owner != "" {
				c.Owner += "; the catalog says: " + st.Connection.Owner
			}
		}
		if o.PasswordSecret != nil {
			c.PasswordSecret = o.PasswordSecret
		}
		if o.SecretKeySecret != nil {
			c.SecretKeySecret = o.SecretKeySecret
		}
	}
	return c
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// App returns the site's app by id, or nil.
func (s *Site) App(id string) *SiteApp {
	for _, a := range s.Apps {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// Workload looks a workload up by name: in app appID first, then in every
// deployed app (a claim of one app may be written by another's workload);
// nil when no app of the site has it.
func (s *Site) Workload(appID, name string) *Workload {
	if a := s.App(appID); a != nil {
		if w := a.workload(name); w != nil {
			return w
		}
	}
	for _, a := range s.Apps {
		if a.ID == appID || !a.Deployed {
			continue
		}
		if w := a.workload(name); w != nil {
			return w
		}
	}
	return nil
}

func (a *SiteApp) workload(name string) *Workload {
	for i := range a.Workloads {
		if a.Workloads[i].Name == name {
			w := a.Workloads[i]
			return &w
		}
	}
	return nil
}

// Stores returns every store of the site in app order.
func (s *Site) Stores() []*SiteStore {
	var out []*SiteStore
	for _, a := range s.Apps {
		out = append(out, a.Stores...)
	}
	return out
}

// DefaultApps resolves a catalog for an edition and release with openDesk's
// default enablement and no decisions: optional stores of deployed apps are
// StatusUndecided. `odbackup init` starts from it.
func DefaultApps(cat *Catalog, edition, release string) []*SiteApp {
	return resolution{catalog: cat, edition: edition, releaseLine: ReleaseLine(release)}.resolveApps()
}

// withRelease returns the app with "{release}" in its names replaced by
// release; apps whose names do not depend on a release are returned as is.
func (a *App) withRelease(release string) *App {
	if a.DefaultRelease == "" {
		return a
	}
	x := func(s string) string { return strings.ReplaceAll(s, "{release}", release) }
	cp := *a
	cp.HelmReleases = mapStrings(a.HelmReleases, x)
	cp.Workloads = make([]Workload, len(a.Workloads))
	for i, w := range a.Workloads {
		w.Name = x(w.Name)
		cp.Workloads[i] = w
	}
	cp.Verify = make([]Check, len(a.Verify))
	for i, c := range a.Verify {
		if c.Exec != nil {
			e := *c.Exec
			e.Workload = x(e.Workload)
			c.Exec = &e
		}
		c.HTTPGet = x(c.HTTPGet)
		cp.Verify[i] = c
	}
	cp.Stores = make(map[string]*Store, len(a.Stores))
	for k, st := range a.Stores {
		s := *st
		s.Identifier = x(s.Identifier)
		c := &s.Connection
		for _, f := range []*string{&c.Host, &c.Database, &c.Bucket, &c.Claim, &c.Workload, &c.Pod, &c.Name} {
			*f = x(*f)
		}
		if s.Export != nil {
			e := *s.Export
			e.Pod = x(e.Pod)
			s.Export = &e
		}
		cp.Stores[k] = &s
	}
	return &cp
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// AppsAtRelease resolves the site's apps as they would be at another
// release of its distribution, with the site's own decisions and without
// validating them: the stores a release bump adds are undecided or backed
// up there, the stores it removes are StatusOtherRelease. `odbackup upgrade`
// compares the two.
func (s *Site) AppsAtRelease(release string) []*SiteApp {
	pol := s.Policy
	return resolution{
		catalog:     s.Catalog,
		extra:       pol.ExtraApps,
		edition:     pol.Edition,
		releaseLine: ReleaseLine(release),
		apps:        pol.Apps,
		stores:      pol.Stores,
		services:    pol.Services,
		hasTarget:   len(pol.Targets) > 0,
	}.resolveApps()
}
