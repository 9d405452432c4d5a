package generator_test

import (
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
)

// TestAdmissionNarrowsUnnamedRights: every right of a Role that RBAC grants
// for every object of a resource (create, delete without resourceNames)
// is narrowed by a ValidatingAdmissionPolicy bound with Deny, matched to
// exactly that ServiceAccount in the site's namespace, in the
// kustomization (so it is in force before a restore runs), and checking
// either the names the Role grants elsewhere or the account's store label.
// A backup account's allowed labels are exactly the labels of the
// VolumeSnapshots its scripts create. The e2e suite proves the API server
// enforces them (TestAdmissionPolicies).
func TestAdmissionNarrowsUnnamedRights(t *testing.T) {
	for site, tree := range examples(t) {
		d := decodeTree(t, site, tree)
		snapshotLabels := map[string]bool{}
		for _, vs := range d.snapshots {
			snapshotLabels[vs.Labels["odbackup.io/store"]] = true
		}
		narrowed := 0
		for name, role := range d.roles {
			ns := role.Namespace
			policyName := name + "." + ns
			for _, r := range role.Rules {
				if len(r.ResourceNames) > 0 || !slices.ContainsFunc(r.Verbs, func(v string) bool { return v == "create" || v == "delete" }) {
					continue
				}
				narrowed++
				p := d.policies[policyName]
				if p == nil {
					t.Errorf("%s/%s: %v is not narrowed by an admission policy", site, name, r)
					continue
				}
				if b := d.policyBindings[policyName]; b == nil || b.Spec.PolicyName != policyName || !slices.Equal(b.Spec.ValidationActions, []admissionv1.ValidationAction{admissionv1.Deny}) {
					t.Errorf("%s/%s: the policy's binding: %+v", site, name, b)
				}
				if !slices.Contains(d.kust.Resources, d.policyPaths[policyName]) {
					t.Errorf("%s/%s: %s is not in the kustomization", site, name, d.policyPaths[policyName])
				}
				spec := p.Spec
				if *spec.FailurePolicy != admissionv1.Fail || len(spec.MatchConditions) != 1 ||
					spec.MatchConditions[0].Expression != "request.userInfo.username == 'system:serviceaccount:"+ns+":"+name+"'" ||
					spec.MatchConstraints.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != ns {
					t.Errorf("%s/%s: the policy does not match exactly the account in %s: %+v", site, name, ns, spec)
				}
				matched := slices.ContainsFunc(spec.MatchConstraints.ResourceRules, func(rr admissionv1.NamedRuleWithOperations) bool {
					return slices.Equal(rr.APIGroups, r.APIGroups) && slices.Equal(rr.Resources, r.Resources)
				})
				if !matched {
					t.Errorf("%s/%s: the policy does not match %v", site, name, r)
				}
				// The names the Role grants on the resource, if any.
				var names []string
				for _, o := range role.Rules {
					if slices.Equal(o.Resources, r.Resources) {
						names = append(names, o.ResourceNames...)
					}
				}
				podContent := false
				for _, v := range spec.Validations {
					if !strings.Contains(v.Expression, "'"+r.Resources[0]+"'") {
						continue
					}
					// A pod's content is checked besides its name (the
					// e2e test TestAdmissionCopyPod proves what it refuses).
					if strings.Contains(v.Expression, "object.spec.serviceAccountName in [") {
						podContent = true
						continue
					}
					if len(names) > 0 {
						for _, n := range names {
							if !strings.Contains(v.Expression, ".metadata.name in [") || !strings.Contains(v.Expression, "'"+n+"'") {
								t.Errorf("%s/%s: %q does not allow exactly the names %v", site, name, v.Expression, names)
							}
						}
						continue
					}
					if !strings.Contains(v.Expression, "metadata.labels['odbackup.io/store'] in [") {
						t.Errorf("%s/%s: %q checks no store label", site, name, v.Expression)
					}
					if !strings.HasPrefix(name, "odbackup-restore-") {
						_, list, _ := strings.Cut(v.Expression, "metadata.labels['odbackup.io/store'] in [")
						for _, l := range strings.Split(strings.TrimSuffix(list, "])"), ", ") {
							if !snapshotLabels[strings.Trim(l, "'")] {
								t.Errorf("%s/%s: the policy allows label %s, which no snapshot of the job carries", site, name, l)
							}
						}
					}
				}
				if r.Resources[0] == "pods" && slices.Contains(r.Verbs, "create") && !podContent {
					t.Errorf("%s/%s: the policy checks the name of the pods the account creates, not what they read and run as", site, name)
				}
			}
		}
		if narrowed == 0 {
			t.Errorf("%s: no Role grants an unnamed create or delete; the test checks nothing", site)
		}
	}
}
