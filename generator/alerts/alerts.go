// Package alerts builds a site's Prometheus alert rules from a neutral list
// of its CronJobs (name, app, stores, kind, schedule, time zone,
// deadlines): per CronJob, no successful run within its RPO and deadlines,
// a failed Job, and a suspension of more than a day, on the CronJob and Job
// series of kube-state-metrics, which every cluster with Prometheus has. It
// owns the PromQL, the rules' labels and annotations, and the two forms
// they come in: a PrometheusRule (prometheus-operator's Go types) and a
// plain Prometheus rules file. It knows no policy or plan and writes no
// files.
package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/odbackup/odbackup/generator/schedule"
)

// Kind is what a CronJob does; it names its alerts.
type Kind string

// The kinds of CronJob odbackup generates.
const (
	KindBackup      Kind = "backup"
	KindMaintenance Kind = "maintenance"
	// KindDrill restores the newest backup into scratch and checks it; a
	// failed drill means a backup that may not restore.
	KindDrill Kind = "drill"
)

// CronJob is one generated CronJob, as the rules need it.
type CronJob struct {
	Name string
	// App is the app whose stores the job handles; empty for a job of
	// the whole site (restic maintenance of a repository).
	App    string
	Stores []string
	Kind   Kind
	// Schedule and TimeZone are the CronJob's; the RPO is computed in
	// the zone.
	Schedule, TimeZone string
	// StartingDeadline and ActiveDeadline are the CronJob's
	// startingDeadlineSeconds and its Jobs' activeDeadlineSeconds.
	StartingDeadline, ActiveDeadline time.Duration
}

// Site is where the CronJobs run and where their runbooks are published.
type Site struct {
	Name, Namespace string
	// RunbookBaseURL is where `odbackup docs` output is published; alerts
	// link <base>/<site>/runbooks/<app>.html. Empty: alerts name the
	// runbook's file in the site folder instead.
	RunbookBaseURL string
}

// Alert names, per kind where the kind changes what the alert means.
var (
	overdueAlert = map[Kind]string{KindBackup: "OdbackupBackupOverdue", KindMaintenance: "OdbackupMaintenanceOverdue", KindDrill: "OdbackupDrillOverdue"}
	failedAlert  = map[Kind]string{KindBackup: "OdbackupBackupFailed", KindMaintenance: "OdbackupMaintenanceFailed", KindDrill: "OdbackupDrillFailed"}
)

// SuspendedAlert fires for any kind of CronJob.
const SuspendedAlert = "OdbackupCronJobSuspended"

// OverdueAlert names the alert for a CronJob of a kind that has not
// succeeded in time.
func OverdueAlert(k Kind) string { return overdueAlert[k] }

// FailedAlert names the alert for a failed Job of a kind of CronJob.
func FailedAlert(k Kind) string { return failedAlert[k] }

// suspendedFor is how long a suspension is taken as a pause (an upgrade,
// a restore) before it is an alert.
const suspendedFor = 24 * time.Hour

// Overdue is how long after a CronJob's last successful run its alert
// fires: the longest gap between two runs (the RPO, in its time zone), plus
// the latest start its starting deadline allows, plus the longest run its
// active deadline allows. A healthy job always succeeds again within it;
// the last success is the completion of a run that started at or after
// its slot.
func Overdue(j CronJob) (time.Duration, error) {
	loc, err := schedule.Location(j.TimeZone)
	if err != nil {
		return 0, err
	}
	g, err := schedule.Analyze(j.Schedule, loc)
	if err != nil {
		return 0, err
	}
	if !g.Runs {
		return 0, fmt.Errorf("schedule %q never runs", j.Schedule)
	}
	return g.RPO + j.StartingDeadline + j.ActiveDeadline, nil
}

// Group is the site's rule group: three rules per CronJob, in the order of
// the list.
func Group(site Site, jobs []CronJob) (monitoringv1.RuleGroup, error) {
	group := monitoringv1.RuleGroup{Name: "odbackup-" + site.Name}
	for _, j := range jobs {
		if overdueAlert[j.Kind] == "" {
			return group, fmt.Errorf("CronJob %s: unknown kind %q", j.Name, j.Kind)
		}
		overdue, err := Overdue(j)
		if err != nil {
			return group, fmt.Errorf("CronJob %s: %w", j.Name, err)
		}
		group.Rules = append(group.Rules,
			overdueRule(site, j, overdue),
			failedRule(site, j),
			suspendedRule(site, j))
	}
	return group, nil
}

// Labels are the labels every alert of a CronJob carries, beyond those of
// its series (namespace, cronjob or job_name): where it runs, what it
// protects, and how urgent it is.
func Labels(site Site, j CronJob, severity string) map[string]string {
	l := map[string]string{"severity": severity, "site": site.Name, "namespace": site.Namespace, "cronjob": j.Name}
	if j.App != "" {
		l["app"] = j.App
	}
	if len(j.Stores) > 0 {
		l["stores"] = strings.Join(slices.Sorted(slices.Values(j.Stores)), ",")
	}
	return l
}

// Annotations are an alert's summary, description and runbook link.
func Annotations(site Site, j CronJob, summary, description string) map[string]string {
	a := map[string]string{"summary": summary, "description": description}
	page := "README"
	if j.App != "" {
		page = j.App
	}
	if site.RunbookBaseURL != "" {
		a["runbook_url"] = strings.TrimRight(site.RunbookBaseURL, "/") + "/" + site.Name + "/runbooks/" + page + ".html"
	} else {
		a["runbook"] = "runbooks/" + page + ".md"
	}
	return a
}

func what(j CronJob) string {
	switch j.Kind {
	case KindMaintenance:
		return "restic maintenance"
	case KindDrill:
		return "restore drill"
	}
	return "backup"
}

func subject(j CronJob) string {
	if j.App != "" {
		return fmt.Sprintf("the %s of %s", what(j), j.App)
	}
	return "the " + what(j)
}

// overdueRule fires when the CronJob's last success is older than its
// threshold, or, if it never succeeded, its creation is. kube-state-metrics
// has no last-success series until a first success, so a job that never
// once worked would otherwise stay silent forever.
func overdueRule(site Site, j CronJob, overdue time.Duration) monitoringv1.Rule {
	sel := fmt.Sprintf(`{namespace=%q, cronjob=%q}`, site.Namespace, j.Name)
	secs := int64(overdue / time.Second)
	expr := fmt.Sprintf(`time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time%[1]s) > %[2]d
or
time() - max by (namespace, cronjob) (kube_cronjob_created%[1]s) > %[2]d
  unless on (namespace, cronjob) kube_cronjob_status_last_successful_time%[1]s
`, sel, secs)
	severity := "critical"
	if j.Kind == KindDrill {
		severity = "warning" // the backups themselves may be fine
	}
	return monitoringv1.Rule{
		Alert:  overdueAlert[j.Kind],
		Expr:   intstr.FromString(expr),
		Labels: Labels(site, j, severity),
		Annotations: Annotations(site, j,
			fmt.Sprintf("No successful %s run of CronJob %s for %s.", what(j), j.Name, schedule.Format(overdue)),
			fmt.Sprintf("%s has not succeeded for %s: its schedule %q (%s) leaves at most %s between runs, "+
				"plus %s to start and %s to run. Check the CronJob's recent Jobs and events.",
				capitalize(subject(j)), schedule.Format(overdue), j.Schedule, j.TimeZone,
				schedule.Format(overdue-j.StartingDeadline-j.ActiveDeadline),
				schedule.Format(j.StartingDeadline), schedule.Format(j.ActiveDeadline))),
	}
}

// failedRule fires for a Job of the CronJob that failed and that no later
// success of the CronJob has made old news. kube_job_status_failed counts
// failed pods, also of a Job whose retry then succeeded; the Job's Failed
// condition (kube_job_failed) says the Job itself failed, and the
// failed-pods series carries its reason (DeadlineExceeded for a run that
// hung). A Job is matched to its CronJob by its owner reference
// (kube_job_owner): kube-state-metrics exports Job labels only where it is
// told to.
func failedRule(site Site, j CronJob) monitoringv1.Rule {
	ns := fmt.Sprintf(`namespace=%q`, site.Namespace)
	expr := fmt.Sprintf(`kube_job_status_failed{%[1]s} > 0
and on (namespace, job_name) kube_job_failed{%[1]s, condition="true"} == 1
and on (namespace, job_name) kube_job_owner{%[1]s, owner_kind="CronJob", owner_name=%[2]q}
unless on (namespace, job_name) (
  kube_job_status_start_time{%[1]s}
  < on (namespace) group_left ()
  max by (namespace) (kube_cronjob_status_last_successful_time{%[1]s, cronjob=%[2]q})
)
`, ns, j.Name)
	severity := "warning" // the next run may succeed; Overdue fires when it matters
	if j.Kind == KindDrill {
		severity = "critical" // a backup that does not restore
	}
	return monitoringv1.Rule{
		Alert:  failedAlert[j.Kind],
		Expr:   intstr.FromString(expr),
		Labels: Labels(site, j, severity),
		Annotations: Annotations(site, j,
			fmt.Sprintf("Job {{ $labels.job_name }} of CronJob %s failed.", j.Name),
			fmt.Sprintf("%s failed (reason: {{ if $labels.reason }}{{ $labels.reason }}{{ else }}see the Job's pods{{ end }}); "+
				"DeadlineExceeded means it ran longer than %s. Its logs say which step failed.",
				capitalize(subject(j)), schedule.Format(j.ActiveDeadline))),
	}
}

// suspendedRule fires for a CronJob suspended for more than a day: a
// pause for an upgrade or a restore that was never lifted.
func suspendedRule(site Site, j CronJob) monitoringv1.Rule {
	expr := fmt.Sprintf("max by (namespace, cronjob) (kube_cronjob_spec_suspend{namespace=%q, cronjob=%q}) > 0\n", site.Namespace, j.Name)
	return monitoringv1.Rule{
		Alert:  SuspendedAlert,
		Expr:   intstr.FromString(expr),
		For:    ptr.To(monitoringv1.Duration("1d")),
		Labels: Labels(site, j, "warning"),
		Annotations: Annotations(site, j,
			fmt.Sprintf("CronJob %s has been suspended for more than %s.", j.Name, schedule.Format(suspendedFor)),
			fmt.Sprintf("%s does not run while CronJob %s is suspended; resume it with "+
				"kubectl patch cronjob %s --namespace=%s --patch='{\"spec\":{\"suspend\":false}}'.",
				capitalize(subject(j)), j.Name, j.Name, site.Namespace)),
	}
}

func capitalize(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// PrometheusRule is the group as the Prometheus Operator's custom resource.
func PrometheusRule(site Site, group monitoringv1.RuleGroup, labels map[string]string) *monitoringv1.PrometheusRule {
	return &monitoringv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PrometheusRuleKind},
		ObjectMeta: metav1.ObjectMeta{Name: "odbackup-" + site.Name, Namespace: site.Namespace, Labels: labels},
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{group}},
	}
}

// RulesFile is a plain Prometheus rules file (rule_files in
// prometheus.yml): the same groups, without the custom resource around them.
type RulesFile struct {
	Groups []monitoringv1.RuleGroup `json:"groups"`
}
