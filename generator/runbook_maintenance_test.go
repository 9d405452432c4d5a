package generator_test

import (
	"bytes"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

// TestRunbooksSuspendMaintenance (issue 16 item 6): the restore Jobs read
// restic without a lock, so a runbook that restores from a repository
// suspends that repository's maintenance CronJob before the reader
// chooses a backup (step 1, before step 2), waits for a run already
// going, and puts back the recorded state at the end (step 5).
func TestRunbooksSuspendMaintenance(t *testing.T) {
	checked := 0
	for site, tree := range examples(t) {
		// The maintenance CronJob of each target.
		maint := map[string]string{}
		for _, p := range tree.Paths() {
			if !strings.HasPrefix(p, "cronjobs/") {
				continue
			}
			var cj batchv1.CronJob
			if err := yaml.Unmarshal(tree[p], &cj); err != nil {
				t.Fatal(err)
			}
			if target := cj.Annotations["odbackup.io/target"]; target != "" {
				maint[target] = cj.Name
			}
		}
		for _, p := range tree.Paths() {
			if !strings.HasPrefix(p, "restore/") {
				continue
			}
			// The target a restic restore reads (the repository's URL
			// is in the Job; the runbook of the app restores it).
			app := strings.Split(p, "/")[1]
			rb := string(tree["runbooks/"+app+".md"])
			if !bytes.Contains(tree[p], []byte("RESTIC_REPOSITORY")) {
				continue
			}
			step2 := strings.Index(rb, "## 2. Choose the backup")
			step5 := strings.Index(rb, "## 5. Start")
			found := false
			for _, name := range maint {
				suspend := strings.Index(rb, "patch cronjob/"+name+` --patch='{"spec":{"suspend":true}}'`)
				if suspend < 0 {
					continue
				}
				found = true
				if step2 < 0 || suspend > step2 {
					t.Errorf("%s/runbooks/%s.md: suspends %s after the backup is chosen", site, app, name)
				}
				if !strings.Contains(rb[suspend:], `get "$w" --output=jsonpath='{.status.active}'`) {
					t.Errorf("%s/runbooks/%s.md: does not wait for a running %s", site, app, name)
				}
				resume := strings.LastIndex(rb, "patch cronjob/"+name+` --patch="{\"spec\":{\"suspend\":$(awk`)
				if resume < step5 {
					t.Errorf("%s/runbooks/%s.md: does not resume %s in step 5", site, app, name)
				}
			}
			if !found {
				t.Errorf("%s/runbooks/%s.md: restores %s from restic but suspends no maintenance", site, app, p)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no restic restores checked")
	}
}
