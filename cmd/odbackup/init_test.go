package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStarterVetsOnceReplaced: the starter's placeholders are all that
// stands between it and a valid policy, for each distribution, edition and
// release; and it decides no store of an app it does not deploy.
func TestStarterVetsOnceReplaced(t *testing.T) {
	placeholder := regexp.MustCompile(`<replace:[^>]*>`)
	undeployed := regexp.MustCompile(`(?m)^\t"?([a-z0-9-]+)"?: +deployed: +false`)
	for _, args := range [][]string{
		{"--site", "gymnasium-nord"},
		{"--edition", "ee", "--release", "v1.19.0", "--site", "landesamt"},
		{"--distribution", "opendesk-edu", "--site", "hs-nord"},
	} {
		code, starter, stderr := runCLI(t, append([]string{"init"}, args...)...)
		if code != 0 {
			t.Fatalf("init %v: exit %d: %s", args, code, stderr)
		}
		apps := undeployed.FindAllStringSubmatch(starter, -1)
		if args[1] == "opendesk-edu" && len(apps) == 0 {
			t.Fatalf("init %v: no app is left out (Moodle is, by default); the pattern is stale", args)
		}
		for _, m := range apps {
			if strings.Contains(starter, "\t\""+m[1]+"/") {
				t.Errorf("init %v: decides a store of %s, which the site does not deploy", args, m[1])
			}
		}
		values := map[string]string{
			"openDesk's global.domain":                                     "opendesk.school.example",
			"host of the S3 server for backups":                            "s3.school.example",
			"CSI driver of the site's volumes, see kubectl get csidrivers": "rbd.csi.ceph.com",
		}
		replaced := placeholder.ReplaceAllStringFunc(starter, func(p string) string {
			what := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(p, "<replace:"), ">"))
			if what == "..." {
				return p // the header comment's example
			}
			v, ok := values[what]
			if !ok {
				t.Fatalf("init %v: placeholder %s has no value in this test", args, p)
			}
			return v
		})
		if replaced == starter {
			t.Fatalf("init %v: no placeholders", args)
		}
		path := filepath.Join(t.TempDir(), "site.cue")
		if err := os.WriteFile(path, []byte(replaced), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := runCLI(t, "vet", path); code != 0 {
			t.Errorf("init %v with the placeholders replaced: vet exit %d:\n%s", args, code, stderr)
		}
	}
}
