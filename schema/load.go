// Package schema owns the Go side of odbackup's CUE: it loads the embedded
// CUE module once, decodes the catalogs, and evaluates site policies against
// the compiled #Policy definition: CUE validation first, then the rules that
// need the catalog (store ids, editions, releases, decisions), then decoding
// into the Go model the generator plans from.
//
// A *Schema is immutable after Load and safe for concurrent use: CUE values
// may be unified and validated concurrently since cuelang.org/go v0.17.
package schema

import (
	"fmt"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"

	cuemodule "github.com/odbackup/odbackup/cue"
)

// EmbeddedPrefix starts the file names of positions inside the embedded CUE
// module, so messages can tell the schema's positions from the user's.
const EmbeddedPrefix = "odbackup:"

// Schema is the compiled policy schema and the decoded catalogs.
type Schema struct {
	ctx       *cue.Context
	policyDef cue.Value
	catalogs  map[string]*Catalog
	// identifying are the top-level fields every policy must write itself
	// (no default): a file without any of them is no policy.
	identifying []string
}

// Load compiles the embedded CUE module. Call it once per process and
// evaluate every policy against the result.
func Load() (*Schema, error) {
	ctx := cuecontext.New()
	cfg := &load.Config{
		FS:         cuemodule.FS,
		Dir:        "/",
		FromFSPath: func(p string) string { return EmbeddedPrefix + strings.TrimPrefix(p, "/") },
	}
	insts := load.Instances([]string{"./policy"}, cfg)
	if len(insts) != 1 {
		return nil, fmt.Errorf("embedded CUE module: expected one instance, got %d", len(insts))
	}
	if err := insts[0].Err; err != nil {
		return nil, fmt.Errorf("embedded CUE module: %w", err)
	}
	root := ctx.BuildInstance(insts[0])
	if err := root.Err(); err != nil {
		return nil, fmt.Errorf("embedded CUE module: %w", err)
	}
	s := &Schema{ctx: ctx, policyDef: root.LookupPath(cue.ParsePath("#Policy"))}
	if err := s.policyDef.Err(); err != nil {
		return nil, fmt.Errorf("embedded CUE module: #Policy: %w", err)
	}
	catalogs, err := decodeCatalogs(root.LookupPath(cue.ParsePath("#Catalogs")))
	if err != nil {
		return nil, err
	}
	s.catalogs = catalogs
	it, err := s.policyDef.Fields()
	if err != nil {
		return nil, fmt.Errorf("embedded CUE module: #Policy: %w", err)
	}
	for it.Next() {
		v := it.Value()
		if _, hasDefault := v.Default(); !hasDefault && v.IncompleteKind()&(cue.StructKind|cue.ListKind) == 0 {
			s.identifying = append(s.identifying, unquote(it.Selector().String()))
		}
	}
	return s, nil
}

// decodeCatalogs decodes every distribution of the embedded catalog.
func decodeCatalogs(v cue.Value) (map[string]*Catalog, error) {
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, fmt.Errorf("embedded catalog: %w", err)
	}
	var catalogs map[string]*Catalog
	if err := v.Decode(&catalogs); err != nil {
		return nil, fmt.Errorf("embedded catalog: %w", err)
	}
	for _, c := range catalogs {
		c.fillIDs()
	}
	return catalogs, nil
}

// fillIDs sets the ids the CUE keys imply.
func (c *Catalog) fillIDs() {
	for appID, app := range c.Apps {
		fillAppIDs(appID, app)
	}
}

func fillAppIDs(appID string, app *App) {
	app.ID = appID
	for key, st := range app.Stores {
		st.ID = appID + "/" + key
		st.App = appID
	}
}

// Catalog returns the catalog of a distribution, or nil.
func (s *Schema) Catalog(distribution string) *Catalog { return s.catalogs[distribution] }

// Distributions lists the distributions the embedded catalog describes.
func (s *Schema) Distributions() []string {
	names := make([]string, 0, len(s.catalogs))
	for n := range s.catalogs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// AppIDs returns the catalog's app ids, sorted.
func (c *Catalog) AppIDs() []string {
	ids := make([]string, 0, len(c.Apps))
	for id := range c.Apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// StoreKeys returns an app's store keys ("<kind>/<name>"), sorted.
func (a *App) StoreKeys() []string {
	keys := make([]string, 0, len(a.Stores))
	for k := range a.Stores {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SortedStores returns the app's stores sorted by id.
func (a *App) SortedStores() []*Store {
	out := make([]*Store, 0, len(a.Stores))
	for _, k := range a.StoreKeys() {
		out = append(out, a.Stores[k])
	}
	return out
}

// Store looks up a store by id.
func (c *Catalog) Store(id string) *Store {
	appID, kind, name, ok := SplitStoreID(id)
	if !ok {
		return nil
	}
	app := c.Apps[appID]
	if app == nil {
		return nil
	}
	return app.Stores[kind+"/"+name]
}
