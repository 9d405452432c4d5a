package generator

import (
	"fmt"
	"path"
	"slices"

	kustomize "sigs.k8s.io/kustomize/api/types"

	"github.com/odbackup/odbackup/generator/coverage"
	"github.com/odbackup/odbackup/generator/kinds"
	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/schema"
)

// Tree is a generated output folder: slash-separated relative paths to file
// contents. It is written or compared as a whole.
type Tree map[string][]byte

// Paths returns the tree's paths, sorted.
func (t Tree) Paths() []string { return sortedKeys(t) }

// Add stores a file; a second write to the same path is a bug in the
// generator, never silently resolved.
func (t Tree) Add(p string, data []byte) error {
	if _, dup := t[p]; dup {
		return fmt.Errorf("generator wrote %s twice", p)
	}
	t[p] = data
	return nil
}

// generation carries what emitting one site needs.
type generation struct {
	*manifest.Builder
}

// Generate plans a site and emits every file of its output folder (the
// folder itself is named after the site; paths are relative to it).
func Generate(site *schema.Site) (Tree, error) {
	plan, err := NewPlan(site)
	if err != nil {
		return nil, err
	}
	return Emit(plan)
}

// Emit renders a plan into files.
func Emit(plan *Plan) (Tree, error) {
	if err := kinds.Check(plan); err != nil {
		return nil, err
	}
	g := &generation{&manifest.Builder{Plan: plan}}
	tree := Tree{}
	var resources []string
	put := func(p string, objs ...any) {
		if g.Err() == nil {
			g.Fail(tree.Add(p, g.YAML(objs...)))
			resources = append(resources, p)
		}
	}
	pol := plan.Site.Policy
	if plan.UsesSnapshots() {
		put(path.Join("snapshotclass", pol.Snapshot.ClassName+".yaml"), g.snapshotClass())
	}
	for _, j := range plan.Jobs {
		put(path.Join("rbac", j.Name+".yaml"), g.rbacObjects(j.Name, j.App.ID, jobRules(j))...)
		put(path.Join("cronjobs", j.Name+".yaml"), g.backupCronJob(j))
	}
	for _, d := range plan.Drills {
		put(path.Join("rbac", d.Name+".yaml"), g.rbacObjects(d.Name, d.App.ID, nil)...)
		put(path.Join("cronjobs", d.Name+".yaml"), g.drillCronJob(d))
	}
	for _, m := range plan.Maintenance {
		put(path.Join("rbac", m.Name+".yaml"), g.rbacObjects(m.Name, "", nil)...)
		put(path.Join("cronjobs", m.Name+".yaml"), g.maintenanceCronJob(m))
	}
	// Admission policies narrow what RBAC cannot (admission.go), for the
	// restore accounts too: they must be in force before a restore runs.
	for _, j := range plan.Jobs {
		if objs := g.admissionObjects(j.Name, j.App.ID, jobRules(j), jobStoreLabels(j), g.jobPods(j)); len(objs) > 0 {
			put(path.Join("admission", j.Name+".yaml"), objs...)
		}
	}
	for _, r := range kinds.Restores(plan) {
		if objs := g.admissionObjects(r.Name, r.App(), restoreRules(r), []string{manifest.StoreLabel(r.Step.Store.ID)}, nil); len(objs) > 0 {
			put(path.Join("admission", r.Name+".yaml"), objs...)
		}
	}
	// Alert rules: in the kustomization only where the policy says so.
	if g.Err() == nil {
		inKustomization, err := g.addAlerts(tree)
		g.Fail(err)
		resources = append(resources, inKustomization...)
	}
	// Restore Jobs, runbooks, pre-upgrade Jobs and the Jobs that create
	// the repositories: in the tree, never in the kustomization.
	if g.Err() == nil {
		g.Fail(g.addRestore(tree))
	}
	if g.Err() == nil {
		g.Fail(g.addPreUpgrade(tree))
	}
	if g.Err() == nil {
		g.Fail(g.addRepositoryInit(tree))
	}
	slices.Sort(resources)
	k := kustomize.Kustomization{
		TypeMeta:  kustomize.TypeMeta{APIVersion: kustomize.KustomizationVersion, Kind: kustomize.KustomizationKind},
		Resources: resources,
	}
	if g.Err() == nil {
		g.Fail(tree.Add("kustomization.yaml", g.YAML(&k)))
	}
	// The coverage report is documentation, not a resource.
	if g.Err() == nil {
		g.Fail(addCoverage(tree, plan))
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	return tree, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// addCoverage writes coverage.md and coverage.json into a site's tree.
func addCoverage(tree Tree, p *Plan) error {
	c, err := coverage.NewCoverage(p)
	if err != nil {
		return err
	}
	data, err := coverage.CoverageJSON(c)
	if err != nil {
		return err
	}
	if err := tree.Add("coverage.json", data); err != nil {
		return err
	}
	return tree.Add("coverage.md", coverage.CoverageMarkdown(c))
}
