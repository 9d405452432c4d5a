package generator

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Two steps of a job that ask for the same resource say it in as few rules
// as grant exactly that; a verb granted on every object is never narrowed
// to the names another step asks for.
func TestRuleSet(t *testing.T) {
	var rs ruleSet
	const vs = "snapshot.storage.k8s.io"
	rs.add(vs, "volumesnapshots", []string{"create", "delete", "get", "list", "watch"}, "")
	rs.add(vs, "volumesnapshots", []string{"get", "list", "watch"}, "")
	rs.add("", "persistentvolumeclaims", []string{"get"}, "live")
	rs.add("", "persistentvolumeclaims", []string{"delete", "get"}, "clone")
	rs.add("", "persistentvolumeclaims", []string{"get"}, "")
	rs.add("", "configmaps", []string{"get"}, "b")
	rs.add("", "configmaps", []string{"get"}, "a")
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}, ResourceNames: []string{"a", "b"}},
		{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"persistentvolumeclaims"}, Verbs: []string{"delete"}, ResourceNames: []string{"clone"}},
		{APIGroups: []string{vs}, Resources: []string{"volumesnapshots"}, Verbs: []string{"create", "delete", "get", "list", "watch"}},
	}
	if got := rs.rules(); !reflect.DeepEqual(got, want) {
		t.Errorf("rules:\n got %+v\nwant %+v", got, want)
	}
}
