package generator

import (
	"bytes"
	"fmt"
	"path"
	"slices"

	goyaml "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/runtime"
	kustomize "sigs.k8s.io/kustomize/api/types"

	"github.com/odbackup/odbackup/generator/coverage"
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
	plan *Plan
	err  error
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
	if err := checkKinds(plan); err != nil {
		return nil, err
	}
	g := &generation{plan: plan}
	tree := Tree{}
	var resources []string
	put := func(p string, objs ...any) {
		if g.err == nil {
			g.err = tree.Add(p, g.yaml(objs...))
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
		if objs := g.admissionObjects(j.Name, j.App.ID, jobRules(j), jobStoreLabels(j)); len(objs) > 0 {
			put(path.Join("admission", j.Name+".yaml"), objs...)
		}
	}
	for _, r := range restoreJobs(plan) {
		if objs := g.admissionObjects(r.Name, r.App(), restoreRules(r), []string{storeLabel(r.Step.Store.ID)}); len(objs) > 0 {
			put(path.Join("admission", r.Name+".yaml"), objs...)
		}
	}
	// Alert rules: in the kustomization only where the policy says so.
	if g.err == nil {
		var inKustomization []string
		inKustomization, g.err = g.addAlerts(tree)
		resources = append(resources, inKustomization...)
	}
	// Restore Jobs, runbooks and pre-upgrade Jobs: in the tree, never in
	// the kustomization.
	if g.err == nil {
		g.err = g.addRestore(tree)
	}
	if g.err == nil {
		g.err = g.addPreUpgrade(tree)
	}
	slices.Sort(resources)
	k := kustomize.Kustomization{
		TypeMeta:  kustomize.TypeMeta{APIVersion: kustomize.KustomizationVersion, Kind: kustomize.KustomizationKind},
		Resources: resources,
	}
	if g.err == nil {
		g.err = tree.Add("kustomization.yaml", g.yaml(&k))
	}
	// The coverage report is documentation, not a resource.
	if g.err == nil {
		g.err = addCoverage(tree, plan)
	}
	if g.err != nil {
		return nil, g.err
	}
	return tree, nil
}

// yaml serializes objects as YAML documents through their unstructured
// (JSON-shaped) form, with status dropped (it is the cluster's to write),
// so keys come out sorted. The map goes straight to the YAML encoder that
// sigs.k8s.io/yaml uses; its JSON-to-YAML round trip gives the same bytes
// at twice the cost (BenchmarkEmit; out/ proves the bytes are the same).
func (g *generation) yaml(objs ...any) []byte {
	var b bytes.Buffer
	for i, obj := range objs {
		if i > 0 {
			b.WriteString("---\n")
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			g.fail(err)
			return nil
		}
		delete(u, "status")
		if md, ok := u["metadata"].(map[string]any); ok && len(md) == 0 {
			delete(u, "metadata")
		}
		data, err := goyaml.Marshal(u)
		if err != nil {
			g.fail(err)
			return nil
		}
		b.Write(data)
	}
	return b.Bytes()
}

func (g *generation) fail(err error) {
	if g.err == nil {
		g.err = err
	}
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
