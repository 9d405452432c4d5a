// Package preflight compares what a site's generated files and decisions
// need in its namespace with what is there: the Secrets and keys, claims,
// workloads, Services and ConfigMaps that backup CronJobs, restore Jobs and
// runbooks use, and the claims no store of the site accounts for.
//
// It works from what odbackup generates (the files of generator.Generate,
// decoded as Kubernetes objects) and decides (the resolved schema.Site), not
// from the generator's internals. It is pure: requirements and an inventory
// in, findings out; no I/O, no clock. Reading an inventory (a file or a
// cluster) is internal/inventory's job; printing is the CLI's.
package preflight

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/odbackup/odbackup/schema"
)

// Kind is the kind of object a requirement names.
type Kind string

// The kinds preflight checks. KindWorkload is a StatefulSet or Deployment
// whose kind odbackup does not know (a store's workload the catalog does not
// list): either satisfies it.
const (
	KindSecret      Kind = "Secret"
	KindConfigMap   Kind = "ConfigMap"
	KindClaim       Kind = "PersistentVolumeClaim"
	KindStatefulSet Kind = "StatefulSet"
	KindDeployment  Kind = "Deployment"
	KindCronJob     Kind = "CronJob"
	KindService     Kind = "Service"
	KindWorkload    Kind = "StatefulSet or Deployment"
)

// The annotations odbackup writes on its CronJobs (the stores a job backs
// up, comma-separated) and restore Jobs (the store a Job restores).
const (
	annotationStores  = "odbackup.io/stores"
	annotationStoreID = "odbackup.io/store-id"
	labelDrill        = "odbackup.io/drill"
)

// Requirement is one object, or one key of a Secret or ConfigMap, that
// generated files use.
type Requirement struct {
	Kind Kind
	Name string
	// Key is a data key of a Secret or ConfigMap; empty for the object.
	Key string
	// Files are the generated files that use it, sorted.
	Files []string
}

// ClaimRule is a claim (or a pattern of claims, as the catalog writes them:
// "openproject-<web/worker>-*-tmp") that a store of the site names, with
// what the site decided about the store.
type ClaimRule struct {
	Claim  string
	Store  string
	Status schema.Status
	re     *regexp.Regexp
}

// Matches says whether a claim of the namespace is the rule's claim.
func (r ClaimRule) Matches(claim string) bool {
	if r.re != nil {
		return r.re.MatchString(claim)
	}
	return r.Claim == claim
}

// Accounts says whether the site decided about the claim: backed up,
// waived, opted out or never backed up. A store of an app the site does not
// deploy, or of another edition or release, decides nothing.
func (r ClaimRule) Accounts() bool {
	switch r.Status {
	case schema.StatusBackup, schema.StatusWaived, schema.StatusOptedOut, schema.StatusNever:
		return true
	}
	return false
}

// Unchecked is something generated files use that preflight cannot see in
// the namespace's inventory: a host outside the namespace, a pod without a
// StatefulSet ordinal.
type Unchecked struct {
	What string `json:"what"`
	Why  string `json:"why"`
	// For are the stores, targets or checks that use it.
	For   []string `json:"for,omitempty"`
	Files []string `json:"files"`
}

// Requirements are everything a site's generated files need in its
// namespace, and every claim its stores name.
type Requirements struct {
	Site      string
	Namespace string
	Required  []Requirement
	Claims    []ClaimRule
	Unchecked []Unchecked
}

// collector gathers requirements, merging the files of equal ones.
type collector struct {
	namespace string
	req       map[reqKey][]string
	// unchecked maps what could not be checked to why and to its users
	// and files.
	unchecked map[string]*unchecked
	err       error
}

// reqKey is a Requirement without its files.
type reqKey struct {
	kind      Kind
	name, key string
}

func (c *collector) need(kind Kind, name, key string, files ...string) {
	k := reqKey{kind, name, key}
	c.req[k] = append(c.req[k], files...)
}

type unchecked struct {
	why          string
	users, files []string
}

func (c *collector) skip(what, why, user string, files ...string) {
	u := c.unchecked[what]
	if u == nil {
		u = &unchecked{why: why}
		c.unchecked[what] = u
	}
	if user != "" {
		u.users = append(u.users, user)
	}
	u.files = append(u.files, files...)
}

// Build derives the requirements from a site and its generated files (the
// tree of generator.Generate: slash-separated paths to contents).
func Build(site *schema.Site, tree map[string][]byte) (Requirements, error) {
	pol := site.Policy
	c := &collector{namespace: pol.Namespace, req: map[reqKey][]string{}, unchecked: map[string]*unchecked{}}
	storeFiles, err := c.podSpecs(tree)
	if err != nil {
		return Requirements{}, err
	}
	c.stores(site, storeFiles)
	c.runbooks(site, tree)
	c.targets(pol, tree)

	r := Requirements{Site: pol.Site, Namespace: pol.Namespace}
	for k, files := range c.req {
		r.Required = append(r.Required, Requirement{Kind: k.kind, Name: k.name, Key: k.key, Files: sortedUnique(files)})
	}
	sort.Slice(r.Required, func(i, j int) bool {
		a, b := r.Required[i], r.Required[j]
		return a.Kind < b.Kind || a.Kind == b.Kind && (a.Name < b.Name || a.Name == b.Name && a.Key < b.Key)
	})
	for what, u := range c.unchecked {
		uc := Unchecked{What: what, Why: u.why, Files: sortedUnique(u.files)}
		if len(u.users) > 0 {
			uc.For = sortedUnique(u.users)
		}
		r.Unchecked = append(r.Unchecked, uc)
	}
	sort.Slice(r.Unchecked, func(i, j int) bool { return r.Unchecked[i].What < r.Unchecked[j].What })
	for _, a := range site.Apps {
		for _, st := range a.Stores {
			claim := st.Connection.Claim
			if claim == "" || (st.Kind != "pvc" && st.Kind != "redis") {
				continue
			}
			rule := ClaimRule{Claim: claim, Store: st.ID, Status: st.Status}
			if isPattern(claim) {
				rule.re = claimPattern(claim)
			}
			r.Claims = append(r.Claims, rule)
		}
	}
	return r, nil
}

// podSpecs walks the pod specs of every CronJob and Job in the tree and
// returns, per store id, the files that back it up or restore it.
func (c *collector) podSpecs(tree map[string][]byte) (map[string][]string, error) {
	storeFiles := map[string][]string{}
	serviceAccounts := map[string]bool{}
	type usage struct{ sa, file string }
	var uses []usage
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if !strings.HasSuffix(p, ".yaml") || !(strings.HasPrefix(p, "cronjobs/") || strings.HasPrefix(p, "restore/") || strings.HasPrefix(p, "rbac/")) {
			continue
		}
		for i, doc := range documents(tree[p]) {
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				return nil, fmt.Errorf("%s: document %d: %v", p, i+1, err)
			}
			var spec *corev1.PodSpec
			switch head.Kind {
			case "ServiceAccount":
				var sa corev1.ServiceAccount
				if err := yaml.UnmarshalStrict(doc, &sa); err != nil {
					return nil, fmt.Errorf("%s: document %d: %v", p, i+1, err)
				}
				serviceAccounts[sa.Name] = true
			case "CronJob":
				var cj batchv1.CronJob
				if err := yaml.UnmarshalStrict(doc, &cj); err != nil {
					return nil, fmt.Errorf("%s: document %d: %v", p, i+1, err)
				}
				// A restore drill names the stores it checks but reads
				// only their backups (its pod spec says what of the
				// target it needs), never the store's claim or host.
				for _, id := range strings.Split(cj.Annotations[annotationStores], ",") {
					if id != "" && cj.Labels[labelDrill] != "true" {
						storeFiles[id] = append(storeFiles[id], p)
					}
				}
				spec = &cj.Spec.JobTemplate.Spec.Template.Spec
			case "Job":
				var j batchv1.Job
				if err := yaml.UnmarshalStrict(doc, &j); err != nil {
					return nil, fmt.Errorf("%s: document %d: %v", p, i+1, err)
				}
				if id := j.Annotations[annotationStoreID]; id != "" {
					storeFiles[id] = append(storeFiles[id], p)
				}
				spec = &j.Spec.Template.Spec
			}
			if spec == nil {
				continue
			}
			c.podSpec(spec, p)
			if spec.ServiceAccountName != "" {
				uses = append(uses, usage{spec.ServiceAccountName, p})
			}
		}
	}
	// odbackup creates every ServiceAccount its pods run as; one it does
	// not create would be a bug in odbackup, not in the namespace.
	for _, u := range uses {
		if !serviceAccounts[u.sa] {
			return nil, fmt.Errorf("%s runs as ServiceAccount %s, which no generated file creates", u.file, u.sa)
		}
	}
	return storeFiles, nil
}

// podSpec records what a pod needs: Secret and ConfigMap keys of its
// environment, whole objects of envFrom, and the objects behind its
// volumes. Optional references are not needed.
func (c *collector) podSpec(spec *corev1.PodSpec, file string) {
	for _, ctr := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, e := range ctr.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil && !isTrue(r.Optional) {
				c.need(KindSecret, r.Name, r.Key, file)
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil && !isTrue(r.Optional) {
				c.need(KindConfigMap, r.Name, r.Key, file)
			}
		}
		for _, e := range ctr.EnvFrom {
			if r := e.SecretRef; r != nil && !isTrue(r.Optional) {
				c.need(KindSecret, r.Name, "", file)
			}
			if r := e.ConfigMapRef; r != nil && !isTrue(r.Optional) {
				c.need(KindConfigMap, r.Name, "", file)
			}
		}
	}
	// A volume needs its object, and the keys it projects.
	keyed := func(kind Kind, name string, items []corev1.KeyToPath, optional *bool) {
		if isTrue(optional) {
			return
		}
		c.need(kind, name, "", file)
		for _, it := range items {
			c.need(kind, name, it.Key, file)
		}
	}
	for _, v := range spec.Volumes {
		switch {
		case v.Secret != nil:
			keyed(KindSecret, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional)
		case v.ConfigMap != nil:
			keyed(KindConfigMap, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional)
		case v.PersistentVolumeClaim != nil:
			c.need(KindClaim, v.PersistentVolumeClaim.ClaimName, "", file)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					keyed(KindSecret, s.Secret.Name, s.Secret.Items, s.Secret.Optional)
				}
				if s.ConfigMap != nil {
					keyed(KindConfigMap, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional)
				}
			}
		}
	}
}

// stores records what the site's backed-up stores need beyond their pods'
// specs: the claims snapshot steps and restores address, the workloads a
// restore finds stopped, the database hosts, the pods backups exec into,
// and the ConfigMaps and Secrets exported whole.
func (c *collector) stores(site *schema.Site, storeFiles map[string][]string) {
	pol := site.Policy
	for _, a := range site.Apps {
		for _, st := range a.Stores {
			if st.Status != schema.StatusBackup {
				continue
			}
			files := storeFiles[st.ID]
			conn := st.Connection
			switch st.Kind {
			case "pvc":
				c.need(KindClaim, conn.Claim, "", files...)
				if conn.Workload != "" {
					c.workload(site, a.ID, conn.Workload, "", restoreFiles(files)...)
				}
			case "redis":
				c.host(conn.Host, st.ID, files...)
				c.need(KindClaim, conn.Claim, "", restoreFiles(files)...)
				// Redis servers run as StatefulSets (openDesk's bundled
				// one is redis-master).
				c.workload(site, a.ID, conn.Workload, KindStatefulSet, restoreFiles(files)...)
			case "postgresql", "mariadb":
				c.host(conn.Host, st.ID, files...)
			case "cassandra":
				c.host(conn.Host, st.ID, files...)
				c.pod(conn.Pod, files...)
			case "s3":
				if u, err := url.Parse(pol.Services.S3.Endpoint); err == nil && u.Hostname() != "" {
					c.host(u.Hostname(), st.ID, files...)
				}
			case "configmap":
				c.need(KindConfigMap, conn.Name, "", files...)
			case "secret":
				c.need(KindSecret, conn.Name, "", files...)
			}
			if st.Export != nil {
				c.pod(st.Export.Pod, files...)
			}
		}
	}
}

// restoreFiles are the restore Jobs among a store's files: a backup step of
// a volume needs its claim, but not the workload that mounts it.
func restoreFiles(files []string) []string {
	var out []string
	for _, f := range files {
		if strings.HasPrefix(f, "restore/") {
			out = append(out, f)
		}
	}
	return out
}

// runbooks records the workloads each app's runbook stops, starts or
// execs into, and the hosts its checks fetch: those of the app's catalog
// workloads and checks that the runbook's commands name.
func (c *collector) runbooks(site *schema.Site, tree map[string][]byte) {
	for _, a := range site.Apps {
		file := "runbooks/" + a.ID + ".md"
		md, ok := tree[file]
		if !ok {
			continue
		}
		for _, w := range a.Workloads {
			if mentions(md, strings.ToLower(w.Kind)+"/"+w.Name) {
				c.need(Kind(w.Kind), w.Name, "", file)
			}
		}
		for _, chk := range a.Verify {
			switch {
			case chk.Exec != nil:
				if mentions(md, "pod/"+chk.Exec.Workload) {
					c.pod(chk.Exec.Workload, file)
				}
			case chk.HTTPGet != "" && bytes.Contains(md, []byte(chk.HTTPGet)):
				if u, err := url.Parse(chk.HTTPGet); err == nil {
					c.host(u.Hostname(), "a check in "+file, file)
				}
			}
		}
	}
}

// mentions says whether text names ref ("statefulset/xwiki") as a whole
// word of a command.
func mentions(text []byte, ref string) bool {
	return regexp.MustCompile(`(^|[^a-z0-9./-])` + regexp.QuoteMeta(ref) + `($|[^a-z0-9.-])`).Match(text)
}

// targets records in-cluster restic repositories and bucket mirrors: a
// target may be a Service of the namespace (a REST server, an S3 gateway).
func (c *collector) targets(pol *schema.Policy, tree map[string][]byte) {
	var all []string
	for p := range tree {
		if strings.HasPrefix(p, "cronjobs/") || strings.HasPrefix(p, "restore/") {
			all = append(all, p)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(pol.Targets)) {
		t := pol.Targets[name]
		files := filesMentioning(tree, all, t.Restic.Repository)
		repo := t.Restic.Repository
		for _, scheme := range []string{"s3:", "rest:"} {
			if rest, ok := strings.CutPrefix(repo, scheme); ok {
				if u, err := url.Parse(rest); err == nil && u.Hostname() != "" {
					c.host(u.Hostname(), "the restic repository of target "+name, files...)
				}
			}
		}
		if m := t.BucketMirror; m != nil {
			if u, err := url.Parse(m.Endpoint); err == nil && u.Hostname() != "" {
				c.host(u.Hostname(), "the bucket mirror of target "+name, filesMentioning(tree, all, m.Endpoint)...)
			}
		}
	}
}

// filesMentioning are the files among paths whose text contains s.
func filesMentioning(tree map[string][]byte, paths []string, s string) []string {
	var out []string
	for _, p := range paths {
		if bytes.Contains(tree[p], []byte(s)) {
			out = append(out, p)
		}
	}
	return out
}

// host records a host name: a Service of the namespace when the name is
// one (a single label, "<svc>.<namespace>" or "<svc>.<namespace>.svc..."),
// something preflight cannot check otherwise.
func (c *collector) host(host, user string, files ...string) {
	if host == "" {
		return
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	switch {
	case len(labels) == 1:
		c.need(KindService, labels[0], "", files...)
	case len(labels) >= 3 && labels[2] == "svc" || len(labels) == 2 && labels[1] == c.namespace:
		if labels[1] == c.namespace {
			c.need(KindService, labels[0], "", files...)
		} else {
			c.skip("host "+host, "a Service of namespace "+labels[1], user, files...)
		}
	default:
		c.skip("host "+host, "outside the cluster", user, files...)
	}
}

// pod records a pod odbackup execs into: a StatefulSet's pod
// ("ums-ldap-server-primary-0") needs its StatefulSet.
func (c *collector) pod(name string, files ...string) {
	if i := strings.LastIndexByte(name, '-'); i > 0 && isDigits(name[i+1:]) {
		c.need(KindStatefulSet, name[:i], "", files...)
		return
	}
	c.skip("pod "+name, "not a StatefulSet's pod; pods are not in the inventory", "", files...)
}

// workload records a workload by name: its kind from the catalog (the
// store's own app first, then every deployed app), else kind, else either
// StatefulSet or Deployment.
func (c *collector) workload(site *schema.Site, appID, name string, kind Kind, files ...string) {
	if w := site.Workload(appID, name); w != nil {
		c.need(Kind(w.Kind), w.Name, "", files...)
		return
	}
	if kind == "" {
		kind = KindWorkload
	}
	c.need(kind, name, "", files...)
}

// documents splits a generated YAML file into its documents.
func documents(data []byte) [][]byte {
	var out [][]byte
	for _, d := range bytes.Split(data, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// isPattern says whether a catalog claim names many claims ("*", "<a/b>").
func isPattern(claim string) bool { return strings.ContainsAny(claim, "*<>/") }

// claimPattern turns a catalog claim pattern into a regular expression:
// "*" is any run of name characters, "<web/worker>" is one of the
// alternatives, everything else is literal.
func claimPattern(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*':
			b.WriteString("[a-z0-9.-]*")
		case '<':
			end := strings.IndexByte(p[i:], '>')
			if end < 0 {
				b.WriteString(regexp.QuoteMeta(p[i:]))
				i = len(p)
				continue
			}
			alts := strings.Split(p[i+1:i+end], "/")
			for j := range alts {
				alts[j] = regexp.QuoteMeta(alts[j])
			}
			b.WriteString("(?:" + strings.Join(alts, "|") + ")")
			i += end
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool { return b != nil && *b }

func sortedUnique(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return slices.Compact(out)
}
