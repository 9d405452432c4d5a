package generator_test

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/schema"
)

// wantOwner is the securityContext the off-site copy's pods must run with
// for a volume: the app's user and group where the catalog or the policy
// names them, odbackup's own user otherwise; a group of the user's number
// when only the user is known.
func wantOwner(c schema.Connection) (user, group int64) {
	user, group = manifest.RunAsUser, manifest.RunAsUser
	if c.RunAsUser != 0 {
		user, group = int64(c.RunAsUser), int64(c.RunAsUser)
	}
	if c.RunAsGroup != 0 {
		group = int64(c.RunAsGroup)
	}
	return user, group
}

func int64Of(p *int64) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// TestOffsiteOwner: for every volume the examples copy off-site, the
// restore Job runs as the app's user, group and fsGroup (so restic gives
// the files back to the app), and the copy pod reads the clone as that
// user and group with the fsGroup only as a supplemental group (an fsGroup
// would have the kubelet change the clone's owners before restic records
// them); both stay runAsNonRoot. A few values are pinned to the catalog's
// sources, so a catalog or generator change that loses them fails here.
func TestOffsiteOwner(t *testing.T) {
	sites, err := exampleSites()
	if err != nil {
		t.Fatal(err)
	}
	pinned := map[string][3]int64{ // store: user, group, fsGroup (0: none)
		"xwiki/pvc/xwiki-data-xwiki-0":                    {100, 101, 101},
		"nubus/pvc/data-ums-provisioning-udm-listener-0":  {102, 65534, 65534},
		"nubus/pvc/shared-data-ums-ldap-server-primary-0": {101, 102, 102},
		"element/pvc/media-opendesk-synapse-0":            {10991, 10991, 10991},
		"postfix/pvc/postfix":                             {manifest.RunAsUser, manifest.RunAsUser, 101},
		"dovecot/pvc/dovecot":                             {manifest.RunAsUser, manifest.RunAsUser, 1000},
		"moodle/pvc/moodle-data":                          {1001, 1001, 1001},
		"ilias/pvc/ilias-data":                            {33, 33, 0},
	}
	seen := map[string]bool{}
	checked := 0
	for site, tree := range examples(t) {
		d := decodeTree(t, site, tree)
		stores := map[string]*schema.SiteStore{}
		for _, a := range sites[site].Apps {
			for _, st := range a.Stores {
				stores[st.ID] = st
			}
		}
		check := func(where, id string, sc *corev1.PodSecurityContext, restore bool) {
			t.Helper()
			st := stores[id]
			if st == nil {
				t.Errorf("%s: store %q is not in the site", where, id)
				return
			}
			c := st.Connection
			user, group := wantOwner(c)
			if p, ok := pinned[id]; ok {
				seen[id] = true
				if user != p[0] || group != p[1] || int64(c.FSGroup) != p[2] {
					t.Errorf("%s: %s resolves to user %d, group %d, fsGroup %d; the catalog's sources say %v", where, id, user, group, c.FSGroup, p)
				}
			}
			if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Errorf("%s: not runAsNonRoot", where)
				return
			}
			if int64Of(sc.RunAsUser) != fmt.Sprint(user) || int64Of(sc.RunAsGroup) != fmt.Sprint(group) {
				t.Errorf("%s: runs as %s:%s, want %d:%d (%s)", where, int64Of(sc.RunAsUser), int64Of(sc.RunAsGroup), user, group, c.Owner)
			}
			if restore {
				want := "unset"
				if c.FSGroup != 0 {
					want = fmt.Sprint(c.FSGroup)
				}
				if int64Of(sc.FSGroup) != want || len(sc.SupplementalGroups) != 0 {
					t.Errorf("%s: fsGroup %s, supplemental groups %v; want fsGroup %s, none", where, int64Of(sc.FSGroup), sc.SupplementalGroups, want)
				}
				return
			}
			var want []int64
			if c.FSGroup != 0 && int64(c.FSGroup) != group {
				want = []int64{int64(c.FSGroup)}
			}
			if sc.FSGroup != nil || !slices.Equal(sc.SupplementalGroups, want) {
				t.Errorf("%s: fsGroup %s, supplemental groups %v; want no fsGroup, supplemental %v", where, int64Of(sc.FSGroup), sc.SupplementalGroups, want)
			}
		}
		for name, pod := range d.copyPods {
			check(site+"/"+name, pod.Annotations[manifest.AnnotStoreID], pod.Spec.SecurityContext, false)
			checked++
		}
		for name, j := range d.jobs {
			if j.Annotations["odbackup.io/method"] != "offsite-copy" {
				continue
			}
			check(site+"/"+name, j.Annotations[manifest.AnnotStoreID], j.Spec.Template.Spec.SecurityContext, true)
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no off-site copy pod or restore Job in the examples")
	}
	for id := range pinned {
		if !seen[id] {
			t.Errorf("no example copies %s off-site; the pinned values prove nothing", id)
		}
	}
}
