package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// perm is one thing a ServiceAccount may do: verb on resource (with its
// subresource, "pods/exec") of apiGroup, named name ("" for any name).
type perm struct{ group, resource, name, verb string }

func (p perm) String() string {
	g := p.group
	if g == "" {
		g = "core"
	}
	n := p.name
	if n == "" {
		n = "*"
	}
	return fmt.Sprintf("%s %s/%s %s", p.verb, g, p.resource, n)
}

// permSet is a set of perms.
type permSet map[perm]bool

func (s permSet) add(group, resource, name string, verbs ...string) {
	for _, v := range verbs {
		s[perm{group, resource, name, v}] = true
	}
}

// allows reports whether the set lets verb act on resource name: a perm
// for that name or for any name.
func (s permSet) allows(group, resource, name, verb string) bool {
	return s[perm{group, resource, name, verb}] || s[perm{group, resource, "", verb}]
}

func (s permSet) sorted() []string {
	var out []string
	for p := range s {
		out = append(out, p.String())
	}
	slices.Sort(out)
	return out
}

var (
	reObjectGet    = regexp.MustCompile(`kubectl --namespace="\$ODBACKUP_NAMESPACE" get (configmap|secret) (\S+) --output=`)
	reClaim        = regexp.MustCompile(`(?m)^claim=(\S+)$`)
	reOffsite      = regexp.MustCompile(`(?m)^source=(\S+)\nclone=(\S+)\npod=(\S+)$`)
	reStoppedCheck = regexp.MustCompile(`k get (statefulset|deployment|cronjob)/(\S+) --output=jsonpath='\{\.spec\.replicas\}`)
)

// scriptPerms is what a generated script does with the Kubernetes API,
// read off its kubectl calls (not off the generated Role): the RBAC verbs
// each call needs.
func scriptPerms(script string) permSet {
	const vs = "snapshot.storage.k8s.io"
	s := permSet{}
	has := func(sub string) bool { return strings.Contains(script, sub) }
	// The snapshot step: create, wait (kubectl wait gets the object, then
	// lists and watches it by name), get it when it never became ready,
	// list the store's by label, delete the oldest.
	if has("create --filename=-") && has("kind: VolumeSnapshot") {
		s.add(vs, "volumesnapshots", "", "create")
	}
	// (The claim restore waits for its safety snapshot the same way.)
	if has(`wait --for=jsonpath='{.status.readyToUse}'=true "volumesnapshot/$`) {
		s.add(vs, "volumesnapshots", "", "get", "list", "watch")
	}
	if has(`get volumesnapshot "$snapshot" --output=yaml`) {
		s.add(vs, "volumesnapshots", "", "get")
	}
	if has("get volumesnapshot --selector=") {
		s.add(vs, "volumesnapshots", "", "list")
	}
	if has(`| xargs kubectl --namespace="$ODBACKUP_NAMESPACE" delete`) {
		s.add(vs, "volumesnapshots", "", "delete")
	}
	// kubectl get configmap|secret NAME: the export, or the restore's
	// check whether it exists; the restore then replaces or creates it.
	for _, m := range reObjectGet.FindAllStringSubmatch(script, -1) {
		s.add("", m[1]+"s", m[2], "get")
		if has(`kubectl --namespace="$ODBACKUP_NAMESPACE" "$verb" --filename=-`) {
			s.add("", m[1]+"s", m[2], "update")
			s.add("", m[1]+"s", "", "create")
		}
	}
	// kubectl exec POD: get the pod, then the exec subresource (create;
	// get for the WebSocket upgrade).
	for _, m := range execTarget.FindAllStringSubmatch(script, -1) {
		s.add("", "pods", m[1], "get")
		s.add("", "pods/exec", m[1], "create", "get")
	}
	// The claim restore: the store's snapshots by label and by name, the
	// live claim (get; delete --wait watches it by name), the new claim.
	if m := reClaim.FindStringSubmatch(script); m != nil {
		claim := m[1]
		if has(`k get volumesnapshot --selector=`) {
			s.add(vs, "volumesnapshots", "", "list")
		}
		if has(`k get volumesnapshot "$snapshot"`) {
			s.add(vs, "volumesnapshots", "", "get")
		}
		if has(`k get pvc "$claim"`) {
			s.add("", "persistentvolumeclaims", claim, "get")
		}
		if has(`k delete pvc "$claim" --wait=true`) {
			s.add("", "persistentvolumeclaims", claim, "delete", "list", "watch")
		}
		if has(`k create --filename="$tmp/new.yaml"`) {
			s.add("", "persistentvolumeclaims", "", "create")
		}
	}
	// The off-site copy: the live claim's class and size, the clone and
	// the copy pod (created; read and deleted by name, delete --wait
	// watching the pod), the copy pod's log.
	if m := reOffsite.FindStringSubmatch(script); m != nil {
		source, clone, pod := m[1], m[2], m[3]
		if has(`k get pvc "$source"`) {
			s.add("", "persistentvolumeclaims", source, "get")
		}
		if has(`k get pvc "$clone"`) {
			s.add("", "persistentvolumeclaims", clone, "get")
		}
		if has(`k delete pvc "$clone"`) {
			s.add("", "persistentvolumeclaims", clone, "delete")
		}
		if has("kind: PersistentVolumeClaim") {
			s.add("", "persistentvolumeclaims", "", "create")
		}
		if has("kind: Pod") {
			s.add("", "pods", "", "create")
		}
		if has(`k get pod "$pod"`) {
			s.add("", "pods", pod, "get")
		}
		if has(`k delete pod "$pod" --wait=true`) {
			s.add("", "pods", pod, "delete", "list", "watch")
		}
		if has(`k logs "$pod"`) {
			s.add("", "pods/log", pod, "get")
		}
	}
	// The check that a workload is stopped.
	for _, m := range reStoppedCheck.FindAllStringSubmatch(script, -1) {
		group := "apps"
		if m[1] == "cronjob" {
			group = "batch"
		}
		s.add(group, m[1]+"s", m[2], "get")
	}
	return s
}

// account is a generated ServiceAccount with the scripts of the Pod that
// runs as it.
type account struct {
	name    string
	file    string
	scripts []string
}

// accounts lists every ServiceAccount a generated tree defines (rbac/ and
// restore/), with the scripts of the containers that mount its token.
func accounts(t testing.TB, tree map[string][]byte) []account {
	t.Helper()
	byName := map[string]*account{}
	var order []string
	paths := slices.Sorted(func(yield func(string) bool) {
		for k := range tree {
			if strings.HasSuffix(k, ".yaml") && k != "kustomization.yaml" && !yield(k) {
				return
			}
		}
	})
	for _, p := range paths {
		for _, doc := range Docs(tree[p]) {
			if kindOf(t, doc) == "ServiceAccount" {
				var m struct {
					Metadata struct{ Name string } `json:"metadata"`
				}
				decodeLoose(t, doc, &m)
				byName[m.Metadata.Name] = &account{name: m.Metadata.Name, file: p}
				order = append(order, m.Metadata.Name)
			}
		}
	}
	for _, p := range paths {
		for _, doc := range Docs(tree[p]) {
			if k := kindOf(t, doc); k != "CronJob" && k != "Job" {
				continue
			}
			var pod struct {
				Spec struct {
					Template struct {
						Spec podSpec `json:"spec"`
					} `json:"template"`
					JobTemplate struct {
						Spec struct {
							Template struct {
								Spec podSpec `json:"spec"`
							} `json:"template"`
						} `json:"spec"`
					} `json:"jobTemplate"`
				} `json:"spec"`
			}
			decodeLoose(t, doc, &pod)
			ps := pod.Spec.Template.Spec
			if ps.ServiceAccountName == "" {
				ps = pod.Spec.JobTemplate.Spec.Template.Spec
			}
			a := byName[ps.ServiceAccountName]
			if a == nil {
				t.Fatalf("%s: ServiceAccount %q is not generated", p, ps.ServiceAccountName)
			}
			for _, c := range append(ps.InitContainers, ps.Containers...) {
				for _, m := range c.VolumeMounts {
					if m.Name == "kube-api-access" && len(c.Command) == 3 {
						a.scripts = append(a.scripts, c.Command[2])
					}
				}
			}
		}
	}
	var out []account
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out
}

type podSpec struct {
	ServiceAccountName string      `json:"serviceAccountName"`
	InitContainers     []container `json:"initContainers"`
	Containers         []container `json:"containers"`
}

type container struct {
	Command      []string `json:"command"`
	VolumeMounts []struct {
		Name string `json:"name"`
	} `json:"volumeMounts"`
	Env []struct {
		Name      string `json:"name"`
		ValueFrom *struct {
			SecretKeyRef *struct{ Name, Key string } `json:"secretKeyRef"`
		} `json:"valueFrom"`
	} `json:"env"`
}

func decodeLoose(t testing.TB, doc []byte, v any) {
	t.Helper()
	if err := yaml.Unmarshal(doc, v); err != nil {
		t.Fatalf("decoding: %v\n%s", err, doc)
	}
}

// RulesOf is what ServiceAccount sa of namespace ns may do there, as the
// API server's RBAC authorizer says: a SelfSubjectRulesReview as the
// account (what kubectl auth can-i --list asks; sent from Go, a kubectl
// process per account would cost a tenth of a second of CPU each), without
// the rules every authenticated user has (self reviews). Tests call it
// from several goroutines: it returns errors rather than failing the test.
func (e *Env) RulesOf(ns, sa string) (permSet, error) {
	review := fmt.Sprintf(`{"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": %q}}`, ns)
	out, err := e.apiPost("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", review, "system:serviceaccount:"+ns+":"+sa)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status struct {
			ResourceRules []struct {
				Verbs, APIGroups, Resources, ResourceNames []string
			} `json:"resourceRules"`
			Incomplete bool `json:"incomplete"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, err
	}
	if r.Status.Incomplete {
		return nil, fmt.Errorf("the rules review of %s is incomplete", sa)
	}
	s := permSet{}
	for _, rule := range r.Status.ResourceRules {
		names := rule.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range rule.APIGroups {
			if g == "authorization.k8s.io" || g == "authentication.k8s.io" {
				continue // selfsubjectaccessreviews and the like, for everyone
			}
			for _, res := range rule.Resources {
				for _, n := range names {
					s.add(g, res, n, rule.Verbs...)
				}
			}
		}
	}
	return s, nil
}

// apiClient talks to the test API server (its certificate is self-signed).
var apiClient = &http.Client{
	Timeout:   time.Minute,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
}

// apiPost posts body to path as the admin, impersonating user when it is
// not "", and returns the answer; anything but 201 is an error.
func (e *Env) apiPost(path, body, user string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, e.Kube.Server+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e.Kube.Token)
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Impersonate-User", user)
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusCreated {
		err = fmt.Errorf("%s", resp.Status)
	}
	if err != nil {
		return nil, fmt.Errorf("POST %s as %q: %w\n%s", path, user, err, data)
	}
	return data, nil
}

// access is one question to the API server's authorizer for a
// ServiceAccount, with the answer the test expects.
type access struct {
	sa, ns                         string
	verb, group, resource, sub, nm string
	want                           bool
}

func (a access) String() string {
	r := a.resource
	if a.sub != "" {
		r += "/" + a.sub
	}
	if a.nm != "" {
		r += "/" + a.nm
	}
	return fmt.Sprintf("%s %s %s in %s", a.sa, a.verb, r, a.ns)
}

// Review asks the API server whether each ServiceAccount (of namespace
// saNS) may do each thing: a SubjectAccessReview per question, with the
// user and groups a ServiceAccount's token carries (what kubectl auth can-i
// --as asks), sent from Go eight at a time, and fails the test for every
// answer not as expected.
func (e *Env) Review(t testing.TB, saNS string, checks []access) {
	t.Helper()
	answers := make([]bool, len(checks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			review, _ := json.Marshal(map[string]any{
				"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
				"spec": map[string]any{
					"user":   "system:serviceaccount:" + saNS + ":" + c.sa,
					"groups": []string{"system:serviceaccounts", "system:serviceaccounts:" + saNS, "system:authenticated"},
					"resourceAttributes": map[string]string{"namespace": c.ns, "verb": c.verb, "group": c.group,
						"resource": c.resource, "subresource": c.sub, "name": c.nm},
				},
			})
			var r struct {
				Status struct {
					Allowed bool `json:"allowed"`
				} `json:"status"`
			}
			out, err := e.apiPost("/apis/authorization.k8s.io/v1/subjectaccessreviews", string(review), "")
			if err == nil {
				err = json.Unmarshal(out, &r)
			}
			if err != nil {
				t.Error(err)
			}
			answers[i] = r.Status.Allowed
		}()
	}
	wg.Wait()
	for i, c := range checks {
		if answers[i] != c.want {
			t.Errorf("%s: allowed=%v, want %v", c, answers[i], c.want)
		}
	}
}

// canI is a kubectl auth can-i question and its expected answer.
type canI struct {
	verb, resource string
	extra          []string
	want           bool
}

// rbacMatrix proves, for every ServiceAccount of a site applied into
// namespace ns, that the API server lets it do exactly what its scripts'
// kubectl calls need (the rules review equals scriptPerms), and asks the
// questions the design's promises are about: no Secret it does not export
// (none listed, none of the site's credentials), no PVC deleted unless it
// restores that claim, no exec into a pod it is not named for, nothing in
// another namespace.
func rbacMatrix(t *testing.T, e *Env, ns string, tree map[string][]byte) {
	accts := accounts(t, tree)
	if len(accts) == 0 {
		t.Fatal("no ServiceAccounts generated")
	}
	// Everything of the site that a ServiceAccount must not reach by
	// accident: the Secrets its Pods read, its claims, its exec pods.
	secrets, claims, pods := map[string]bool{"some-other-secret": true}, map[string]bool{"some-other-claim": true}, map[string]bool{"mariadb-0": true}
	for _, a := range accts {
		for _, sc := range a.scripts {
			for _, m := range reClaim.FindAllStringSubmatch(sc, -1) {
				claims[m[1]] = true
			}
			for _, m := range execTarget.FindAllStringSubmatch(sc, -1) {
				pods[m[1]] = true
			}
		}
	}
	for _, data := range tree {
		for _, m := range regexp.MustCompile(`secretKeyRef:\s+key: \S+\s+name: (\S+)`).FindAllStringSubmatch(string(data), -1) {
			secrets[m[1]] = true
		}
		for _, m := range regexp.MustCompile(`persistentVolumeClaimName: (\S+)`).FindAllStringSubmatch(string(data), -1) {
			claims[m[1]] = true
		}
	}

	// What every authenticated account may do (a ServiceAccount nothing is
	// bound to): not the generated Roles' doing.
	everyone, err := e.RulesOf(ns, "odbackup-e2e-nobody")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var checks []access
	for _, a := range accts {
		want := permSet{}
		for _, sc := range a.scripts {
			for p := range scriptPerms(sc) {
				want[p] = true
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			got, err := e.RulesOf(ns, a.name)
			if err != nil {
				t.Error(err)
				return
			}
			for p := range everyone {
				delete(got, p)
			}
			if g, w := strings.Join(got.sorted(), "\n  "), strings.Join(want.sorted(), "\n  "); g != w {
				t.Errorf("%s (%s) may:\n  %s\nits scripts need:\n  %s", a.name, a.file, g, w)
			}
		}()
		mu.Lock()
		checks = append(checks, access{a.name, ns, "list", "", "secrets", "", "", false},
			access{a.name, ns, "watch", "", "secrets", "", "", false},
			access{a.name, ns, "delete", "", "persistentvolumeclaims", "", "", false},
			access{a.name, ns, "create", "", "pods", "exec", "", false},
			access{a.name, "kube-system", "get", "", "configmaps", "", "", false},
			access{a.name, "kube-system", "create", "snapshot.storage.k8s.io", "volumesnapshots", "", "", false},
			access{a.name, ns, "create", "rbac.authorization.k8s.io", "rolebindings", "", "", false},
			access{a.name, ns, "patch", "apps", "statefulsets", "", "", false})
		for name := range secrets {
			checks = append(checks, access{a.name, ns, "get", "", "secrets", "", name, want.allows("", "secrets", name, "get")})
		}
		for name := range claims {
			checks = append(checks, access{a.name, ns, "delete", "", "persistentvolumeclaims", "", name, want.allows("", "persistentvolumeclaims", name, "delete")})
		}
		for name := range pods {
			checks = append(checks, access{a.name, ns, "create", "", "pods", "exec", name, want.allows("", "pods/exec", name, "create")})
		}
		mu.Unlock()
	}
	wg.Wait()
	e.Review(t, ns, checks)

	// The same questions through kubectl auth can-i --as, for one account
	// of each kind: it must agree with the reviews.
	kinds := map[string]bool{}
	cani := 0
	for _, a := range accts {
		want := permSet{}
		for _, sc := range a.scripts {
			for p := range scriptPerms(sc) {
				want[p] = true
			}
		}
		var resources []string
		var claim, pod string
		for p := range want {
			resources = append(resources, p.resource)
			switch {
			// A claim the account may delete by name: a restore's live
			// claim, or an off-site copy's clone (the live claim it only
			// reads).
			case p.resource == "persistentvolumeclaims" && p.name != "" && p.verb == "delete":
				claim = p.name
			case p.resource == "pods/exec":
				pod = p.name
			}
		}
		slices.Sort(resources)
		kind := strings.Join(slices.Compact(resources), ",")
		if kinds[kind] {
			continue
		}
		kinds[kind] = true
		checks := []canI{{"list", "secrets", nil, false}}
		switch {
		case claim != "":
			checks = append(checks, canI{"delete", "persistentvolumeclaims/" + claim, nil, true})
		case pod != "":
			checks = append(checks, canI{"create", "pods/" + pod, []string{"--subresource=exec"}, true})
		default:
			checks = append(checks, canI{"create", "pods/mariadb-0", []string{"--subresource=exec"}, false})
		}
		for _, c := range checks {
			cani++
			if got := e.CanI(t, ns, ns, a.name, c.verb, c.resource, c.extra...); got != c.want {
				t.Errorf("kubectl auth can-i %s %s %v as %s: %v, want %v", c.verb, c.resource, c.extra, a.name, got, c.want)
			}
		}
	}
	t.Logf("%d ServiceAccounts: rules reviewed, %d access reviews, %d kubectl auth can-i", len(accts), len(checks), cani)
}
