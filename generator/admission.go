package generator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/odbackup/odbackup/generator/manifest"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// RBAC cannot narrow create by name (the object has no name yet when RBAC
// decides) nor any verb by label: a Role that lets a backup create and prune
// its VolumeSnapshots lets it delete every VolumeSnapshot of the namespace,
// and a restore that may create its claim may create any claim. A
// ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, GA since
// Kubernetes 1.30) can: it sees the object and who asks. Every rule of an
// account's Role that grants create or delete without resource names gets
// one validation here:
//
//   - where the same Role names objects of the resource (the claim a
//     restore deletes, the ConfigMap it updates), only those names;
//   - else (VolumeSnapshots, whose names carry a timestamp) only objects
//     labelled odbackup.io/store with one of the account's stores.
//
// The policies are cluster-scoped and matched to one ServiceAccount and
// its namespace, so they are in the kustomization for backup and restore
// accounts alike: they are in place before any restore Job runs.

// admissionRule is one narrowing of an account's rights.
type admissionRule struct {
	group, resource string
	operations      []admissionv1.OperationType
	// names are the objects allowed, or, when empty, labels are the
	// allowed values of odbackup.io/store.
	names, labels []string
}

// admissionRules derives the narrowing of an account's Role; stores are
// the store labels its objects may carry. It fails when an unnamed create
// or delete can be narrowed neither way.
func admissionRules(account string, rules []rbacv1.PolicyRule, stores []string) ([]admissionRule, error) {
	type res struct{ group, resource string }
	named := map[res][]string{}
	ops := map[res][]admissionv1.OperationType{}
	var order []res
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, rs := range r.Resources {
				k := res{g, rs}
				if len(r.ResourceNames) > 0 {
					named[k] = append(named[k], r.ResourceNames...)
					continue
				}
				for _, v := range r.Verbs {
					var op admissionv1.OperationType
					switch v {
					case "create":
						op = admissionv1.Create
					case "delete", "deletecollection":
						op = admissionv1.Delete
					default:
						continue
					}
					if _, seen := ops[k]; !seen {
						order = append(order, k)
					}
					if !slices.Contains(ops[k], op) {
						ops[k] = append(ops[k], op)
					}
				}
			}
		}
	}
	var out []admissionRule
	for _, k := range order {
		ar := admissionRule{group: k.group, resource: k.resource, operations: ops[k]}
		if n := named[k]; len(n) > 0 {
			ar.names = slices.Compact(slices.Sorted(slices.Values(n)))
		} else if len(stores) > 0 {
			ar.labels = slices.Compact(slices.Sorted(slices.Values(stores)))
		} else {
			return nil, fmt.Errorf("account %s: %s on %s is granted for every object and can be narrowed neither by name nor by store label", account, ops[k], k.resource)
		}
		slices.Sort(ar.operations)
		out = append(out, ar)
	}
	slices.SortFunc(out, func(a, b admissionRule) int {
		return strings.Compare(a.group+"/"+a.resource, b.group+"/"+b.resource)
	})
	return out, nil
}

// celList is a CEL list of string literals; names and label values are
// DNS names, which need no escaping.
func celList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = "'" + v + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// admissionObjects are the ValidatingAdmissionPolicy and its binding that
// narrow account's rules, or nothing when they need no narrowing.
func (g *generation) admissionObjects(account, app string, rules []rbacv1.PolicyRule, stores []string) []any {
	pol := g.Plan.Site.Policy
	ars, err := admissionRules(account, rules, stores)
	if err != nil {
		g.Fail(err)
		return nil
	}
	if len(ars) == 0 {
		return nil
	}
	// Cluster-scoped: the namespace makes the name unique in the cluster.
	name := account + "." + pol.Namespace
	user := "system:serviceaccount:" + pol.Namespace + ":" + account
	var resourceRules []admissionv1.NamedRuleWithOperations
	var validations []admissionv1.Validation
	for _, ar := range ars {
		resourceRules = append(resourceRules, admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
			Operations: ar.operations,
			Rule: admissionv1.Rule{
				APIGroups: []string{ar.group}, APIVersions: []string{"*"}, Resources: []string{ar.resource},
				Scope: ptr.To(admissionv1.NamespacedScope),
			},
		}})
		// object is null on DELETE, oldObject on CREATE; one policy
		// may match several resources, hence the guard on the resource.
		var check, allowed string
		if len(ar.names) > 0 {
			check = "$o == null || $o.metadata.name in " + celList(ar.names)
			allowed = "named " + strings.Join(ar.names, ", ")
		} else {
			check = "$o == null || (has($o.metadata.labels) && '" + manifest.LabelStore + "' in $o.metadata.labels && $o.metadata.labels['" + manifest.LabelStore + "'] in " + celList(ar.labels) + ")"
			allowed = "labelled " + manifest.LabelStore + "=" + strings.Join(ar.labels, " or ")
		}
		resource := ar.resource
		if ar.group != "" {
			resource += "." + ar.group
		}
		var objs []string
		if slices.Contains(ar.operations, admissionv1.Create) {
			objs = append(objs, "object")
		}
		if slices.Contains(ar.operations, admissionv1.Delete) {
			objs = append(objs, "oldObject")
		}
		for _, obj := range objs {
			validations = append(validations, admissionv1.Validation{
				Expression: fmt.Sprintf("request.resource.group != '%s' || request.resource.resource != '%s' || ", ar.group, ar.resource) + strings.ReplaceAll(check, "$o", obj),
				Message:    fmt.Sprintf("odbackup: ServiceAccount %s may %s only %s %s", account, verbList(ar.operations), resource, allowed),
				Reason:     ptr.To(metav1.StatusReasonForbidden),
			})
		}
	}
	labels := manifest.ObjectLabels(pol.Site, app)
	return []any{
		&admissionv1.ValidatingAdmissionPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: admissionv1.ValidatingAdmissionPolicySpec{
				// An API server that cannot evaluate the policy refuses
				// the request rather than let it through unchecked.
				FailurePolicy: ptr.To(admissionv1.Fail),
				MatchConstraints: &admissionv1.MatchResources{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": pol.Namespace}},
					ResourceRules:     resourceRules,
				},
				MatchConditions: []admissionv1.MatchCondition{{Name: "is-" + account, Expression: fmt.Sprintf("request.userInfo.username == '%s'", user)}},
				Validations:     validations,
			},
		},
		&admissionv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        name,
				ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			},
		},
	}
}

func verbList(ops []admissionv1.OperationType) string {
	words := make([]string, len(ops))
	for i, op := range ops {
		words[i] = strings.ToLower(string(op))
	}
	return strings.Join(words, " and ")
}

// jobStoreLabels are the store labels of a backup job's VolumeSnapshots.
func jobStoreLabels(j *Job) []string {
	var out []string
	for _, st := range j.Steps {
		if st.Kind.Traits().VolumeSnapshots {
			out = append(out, manifest.StoreLabel(st.Store.ID))
		}
	}
	return out
}
