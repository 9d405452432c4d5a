package generator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/odbackup/odbackup/generator/kinds"
	"github.com/odbackup/odbackup/generator/manifest"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
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
// narrow account's rules, or nothing when they need no narrowing. pods are
// the pods the account's steps create (kinds.PodCreator): where it may
// create pods, it may create only pods that use no more than these do.
func (g *generation) admissionObjects(account, app string, rules []rbacv1.PolicyRule, stores []string, pods []*corev1.Pod) []any {
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
		if ar.group == "" && ar.resource == "pods" && slices.Contains(ar.operations, admissionv1.Create) {
			validations = append(validations, podValidation(account, pods))
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

// podValidation lets account create only pods that run as one of the
// ServiceAccounts of pods, with their images, and read only their Secrets
// and claims: a name alone (what the other rules check) would let a pod
// of that name mount the maintenance credentials, another app's claim, or
// run as a ServiceAccount with more rights.
func podValidation(account string, pods []*corev1.Pod) admissionv1.Validation {
	var accounts, images, secrets, claims []string
	for _, p := range pods {
		accounts = append(accounts, p.Spec.ServiceAccountName)
		for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
			images = append(images, c.Image)
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					secrets = append(secrets, e.ValueFrom.SecretKeyRef.Name)
				}
			}
			for _, f := range c.EnvFrom {
				if f.SecretRef != nil {
					secrets = append(secrets, f.SecretRef.Name)
				}
			}
		}
		for _, v := range p.Spec.Volumes {
			if v.Secret != nil {
				secrets = append(secrets, v.Secret.SecretName)
			}
			if v.PersistentVolumeClaim != nil {
				claims = append(claims, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	set := func(xs []string) []string { return slices.Compact(slices.Sorted(slices.Values(xs))) }
	accounts, images, secrets, claims = set(accounts), set(images), set(secrets), set(claims)
	container := fmt.Sprintf("c.image in %[1]s && (!has(c.env) || c.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef) || e.valueFrom.secretKeyRef.name in %[2]s)) && (!has(c.envFrom) || c.envFrom.all(f, !has(f.secretRef) || f.secretRef.name in %[2]s))",
		celList(images), celList(secrets))
	expr := "request.resource.group != '' || request.resource.resource != 'pods' || object == null || (" +
		"has(object.spec.serviceAccountName) && object.spec.serviceAccountName in " + celList(accounts) +
		" && object.spec.containers.all(c, " + container + ")" +
		" && (!has(object.spec.initContainers) || object.spec.initContainers.all(c, " + container + "))" +
		" && (!has(object.spec.volumes) || object.spec.volumes.all(v, has(v.emptyDir) || (has(v.persistentVolumeClaim) && v.persistentVolumeClaim.claimName in " + celList(claims) + ") || (has(v.secret) && v.secret.secretName in " + celList(secrets) + "))))"
	none := func(xs []string) string {
		if len(xs) == 0 {
			return "none"
		}
		return strings.Join(xs, ", ")
	}
	return admissionv1.Validation{
		Expression: expr,
		Message: fmt.Sprintf("odbackup: ServiceAccount %s may create only pods that run as %s with the images %s, read only the Secrets %s and mount only the claims %s and emptyDir volumes",
			account, none(accounts), none(images), none(secrets), none(claims)),
		Reason: ptr.To(metav1.StatusReasonForbidden),
	}
}

func verbList(ops []admissionv1.OperationType) string {
	words := make([]string, len(ops))
	for i, op := range ops {
		words[i] = strings.ToLower(string(op))
	}
	return strings.Join(words, " and ")
}

// jobPods are the pods a backup job's steps create.
func (g *generation) jobPods(j *Job) []*corev1.Pod {
	var out []*corev1.Pod
	for _, st := range j.Steps {
		if pc, ok := st.Kind.(kinds.PodCreator); ok {
			out = append(out, pc.CreatedPod(g.Builder, st))
		}
	}
	return out
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
