package alerts

import (
	"strings"
	"testing"
	"time"
)

var backup = CronJob{
	Name: "odbackup-xwiki", App: "xwiki", Stores: []string{"xwiki/pvc/xwiki-data-xwiki-0", "xwiki/postgresql/xwiki"},
	Kind: KindBackup, Schedule: "25 3 * * *", TimeZone: "Europe/Berlin",
	StartingDeadline: 30 * time.Minute, ActiveDeadline: 6 * time.Hour,
}

func TestGroupLabelsAndRunbooks(t *testing.T) {
	maintenance := CronJob{Name: "odbackup-restic-offsite", Stores: []string{"xwiki/postgresql/xwiki"}, Kind: KindMaintenance,
		Schedule: "30 5 * * 0", TimeZone: "Etc/UTC", StartingDeadline: 30 * time.Minute, ActiveDeadline: 12 * time.Hour}
	group, err := Group(Site{Name: "school", Namespace: "opendesk"}, []CronJob{backup, maintenance})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range group.Rules {
		names = append(names, r.Alert)
	}
	if got := strings.Join(names, " "); got != "OdbackupBackupOverdue OdbackupBackupFailed OdbackupCronJobSuspended "+
		"OdbackupMaintenanceOverdue OdbackupMaintenanceFailed OdbackupCronJobSuspended" {
		t.Errorf("rules %s", got)
	}
	first := group.Rules[0]
	if got := first.Labels["stores"]; got != "xwiki/postgresql/xwiki,xwiki/pvc/xwiki-data-xwiki-0" {
		t.Errorf("stores label %q: sorted ids, comma-separated", got)
	}
	if first.Labels["app"] != "xwiki" || first.Labels["site"] != "school" || first.Labels["cronjob"] != "odbackup-xwiki" {
		t.Errorf("labels %v", first.Labels)
	}
	// Without a base URL the alert names the runbook's file; maintenance
	// belongs to the site, so its runbook is the site's.
	if got := first.Annotations["runbook"]; got != "runbooks/xwiki.md" {
		t.Errorf("runbook %q", got)
	}
	if _, ok := group.Rules[3].Labels["app"]; ok || group.Rules[3].Annotations["runbook"] != "runbooks/README.md" {
		t.Errorf("maintenance: labels %v, annotations %v", group.Rules[3].Labels, group.Rules[3].Annotations)
	}
	// 25 hours (autumn) + 30 minutes + 6 hours.
	if !strings.Contains(first.Expr.String(), "> 113400\n") {
		t.Errorf("overdue threshold: %s", first.Expr.String())
	}
}

func TestGroupRejects(t *testing.T) {
	site := Site{Name: "school", Namespace: "opendesk"}
	for _, tt := range []struct {
		change func(*CronJob)
		want   string
	}{
		{func(j *CronJob) { j.Kind = "snapshot" }, `unknown kind "snapshot"`},
		{func(j *CronJob) { j.TimeZone = "Mars/Olympus_Mons" }, `unknown time zone "Mars/Olympus_Mons"`},
		{func(j *CronJob) { j.Schedule = "0 0 30 2 *" }, "never runs"},
	} {
		j := backup
		tt.change(&j)
		if _, err := Group(site, []CronJob{j}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Group: %v, want an error with %q", err, tt.want)
		}
	}
}
