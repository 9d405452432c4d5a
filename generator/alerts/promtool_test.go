package alerts_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/odbackup/odbackup/generator/alerts"
	"github.com/odbackup/odbackup/generator/internal/testsite"
	"github.com/odbackup/odbackup/generator/schedule"
)

// promtool finds promtool; make test installs it (Debian package
// prometheus) and sets ODBACKUP_PROMTOOL=required, so the tests cannot
// skip there.
func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("ODBACKUP_PROMTOOL") == "required" {
			t.Fatal("promtool is required but not installed (e2e/scripts/ensure-packages.sh prometheus)")
		}
		t.Skip("promtool not installed; make test installs it")
	}
	return bin
}

// The unit-test file format of `promtool test rules`.
type (
	testFile struct {
		RuleFiles          []string    `json:"rule_files"`
		EvaluationInterval string      `json:"evaluation_interval"`
		Tests              []testGroup `json:"tests"`
	}
	testGroup struct {
		Name       string          `json:"name"`
		Interval   string          `json:"interval"`
		Series     []inputSeries   `json:"input_series"`
		AlertTests []alertRuleTest `json:"alert_rule_test"`
	}
	inputSeries struct {
		Series string `json:"series"`
		Values string `json:"values"`
	}
	alertRuleTest struct {
		EvalTime  string     `json:"eval_time"`
		Alertname string     `json:"alertname"`
		ExpAlerts []expAlert `json:"exp_alerts"`
	}
	expAlert struct {
		Labels      map[string]string `json:"exp_labels"`
		Annotations map[string]string `json:"exp_annotations"`
	}
)

func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int64(d/time.Second)) }

// constant is a series that holds value for n steps from 0.
func constant(series string, value int64, steps int64) inputSeries {
	return inputSeries{Series: series, Values: fmt.Sprintf("%d+0x%d", value, steps)}
}

// expand renders an annotation as Prometheus does, with $labels set.
func expand(t *testing.T, text string, labels map[string]string) string {
	t.Helper()
	tmpl, err := template.New("").Parse("{{$labels := .Labels}}" + text)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, struct{ Labels map[string]string }{labels}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// expected is the alert a rule raises for a series with these labels.
func expected(t *testing.T, rule monitoringv1.Rule, series map[string]string) expAlert {
	labels := map[string]string{}
	for k, v := range series {
		labels[k] = v
	}
	for k, v := range rule.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range rule.Annotations {
		annotations[k] = expand(t, v, labels)
	}
	return expAlert{Labels: labels, Annotations: annotations}
}

// cronJobRules are the three rules of one CronJob, by alert name.
func cronJobRules(t *testing.T, group monitoringv1.RuleGroup, name string) map[string]monitoringv1.Rule {
	rules := map[string]monitoringv1.Rule{}
	for _, r := range group.Rules {
		if r.Labels["cronjob"] == name {
			rules[r.Alert] = r
		}
	}
	if len(rules) != 3 {
		t.Fatalf("CronJob %s: %d alert rules, want 3 (overdue, failed, suspended)", name, len(rules))
	}
	return rules
}

// cronJobTests are the promtool tests of one CronJob's rules: each alert
// fires for the series that should make it fire, from the moment it
// should, and stays silent for the others. overdue is when the CronJob's
// last success is too old, computed here from the CronJob's manifest.
//
// Series and evaluations are step apart (see evaluationStep): the threshold
// is exact on the silent side, within a step on the firing side; the
// rule's own threshold is checked to the second by TestOverdueThreshold.
func cronJobTests(t *testing.T, namespace, name string, kind alerts.Kind, overdue, step time.Duration, rules map[string]monitoringv1.Rule) []testGroup {
	interval := seconds(step)
	sel := func(metric string, labels ...string) string {
		return fmt.Sprintf(`%s{namespace=%q,%s}`, metric, namespace, strings.Join(labels, ","))
	}
	cj := fmt.Sprintf("cronjob=%q", name)
	cronJobSeries := map[string]string{"namespace": namespace, "cronjob": name}

	// Overdue: the last success (or the creation, before any success) at
	// a time that puts the threshold on a step; silent exactly at the
	// threshold, firing a step later.
	lastOK := (step - overdue%step) % step
	silentAt := lastOK + overdue
	firingAt := silentAt + step
	steps := int64(firingAt/step) + 1
	overdueRule := rules[alerts.OverdueAlert(kind)]
	overdueTests := func(alertname string) []alertRuleTest {
		return []alertRuleTest{
			{EvalTime: seconds(silentAt), Alertname: alertname},
			{EvalTime: seconds(firingAt), Alertname: alertname, ExpAlerts: []expAlert{expected(t, overdueRule, cronJobSeries)}},
		}
	}
	groups := []testGroup{
		{
			Name: name + ": last success too old", Interval: interval,
			Series: []inputSeries{
				constant(sel("kube_cronjob_created", cj), 0, steps),
				constant(sel("kube_cronjob_status_last_successful_time", cj), int64(lastOK/time.Second), steps),
				// Another CronJob that never ran raises nothing here.
				constant(sel("kube_cronjob_created", `cronjob="other"`), 0, steps),
			},
			AlertTests: overdueTests(overdueRule.Alert),
		},
		{
			Name: name + ": never succeeded", Interval: interval,
			Series:     []inputSeries{constant(sel("kube_cronjob_created", cj), int64(lastOK/time.Second), steps)},
			AlertTests: overdueTests(overdueRule.Alert),
		},
	}

	// Failed: one Job failed after the last success (fires), one failed
	// before it (old news), one failed a pod and succeeded on its retry
	// (no Failed condition), and a failed Job of another CronJob.
	failedRule := rules[alerts.FailedAlert(kind)]
	job := func(n string) string { return fmt.Sprintf("job_name=%q", name+"-"+n) }
	owner := func(n, owner string) inputSeries {
		return constant(sel("kube_job_owner", job(n), `owner_kind="CronJob"`, fmt.Sprintf("owner_name=%q", owner), `owner_is_controller="true"`), 1, 10)
	}
	var failedSeries []inputSeries
	for _, n := range []string{"new", "old", "other"} {
		failedSeries = append(failedSeries,
			constant(sel("kube_job_status_failed", job(n), `reason="BackoffLimitExceeded"`), 1, 10),
			constant(sel("kube_job_status_failed", job(n), `reason="DeadlineExceeded"`), 0, 10),
			constant(sel("kube_job_status_failed", job(n), `reason="Evicted"`), 0, 10),
			constant(sel("kube_job_failed", job(n), `condition="true"`), 1, 10),
			constant(sel("kube_job_failed", job(n), `condition="false"`), 0, 10))
	}
	failedSeries = append(failedSeries,
		owner("new", name), owner("old", name), owner("other", "odbackup-other"), owner("retried", name),
		constant(sel("kube_job_status_start_time", job("old")), 60, 10),
		constant(sel("kube_job_status_start_time", job("new")), 300, 10),
		constant(sel("kube_job_status_start_time", job("other")), 300, 10),
		constant(sel("kube_job_status_start_time", job("retried")), 300, 10),
		constant(sel("kube_job_status_failed", job("retried"), `reason=""`), 1, 10),
		constant(sel("kube_cronjob_status_last_successful_time", cj), 120, 10))
	groups = append(groups, testGroup{
		Name: name + ": failed Jobs", Interval: interval, Series: failedSeries,
		AlertTests: []alertRuleTest{{EvalTime: interval, Alertname: failedRule.Alert, ExpAlerts: []expAlert{expected(t, failedRule, map[string]string{
			"namespace": namespace, "job_name": name + "-new", "reason": "BackoffLimitExceeded",
		})}}},
	})

	// Suspended: pending for a day, then firing; a CronJob that is not
	// suspended stays silent.
	suspendedRule := rules[alerts.SuspendedAlert]
	const hour = time.Hour // the suspension tests' step (see promtoolFiles)
	day := int64(24)
	groups = append(groups,
		testGroup{
			Name: name + ": suspended", Interval: "1h",
			Series: []inputSeries{constant(sel("kube_cronjob_spec_suspend", cj), 1, day+2)},
			AlertTests: []alertRuleTest{
				{EvalTime: seconds(24*time.Hour - hour), Alertname: suspendedRule.Alert},
				{EvalTime: "1d", Alertname: suspendedRule.Alert, ExpAlerts: []expAlert{expected(t, suspendedRule, cronJobSeries)}},
			},
		},
		testGroup{
			Name: name + ": running", Interval: "1h",
			Series:     []inputSeries{constant(sel("kube_cronjob_spec_suspend", cj), 0, day+2)},
			AlertTests: []alertRuleTest{{EvalTime: seconds(24*time.Hour + hour), Alertname: suspendedRule.Alert}},
		})
	return groups
}

// promtoolFiles writes one CronJob's rules (verbatim from the generated
// group) and their tests for `promtool test rules`: the overdue and failed
// tests at the CronJob's evaluation step, the suspension tests (a day)
// at an hour's step. A file per CronJob keeps each test's evaluation to
// its three rules.
func promtoolFiles(t *testing.T, dir, name string, step time.Duration, rules map[string]monitoringv1.Rule, tests []testGroup) []string {
	t.Helper()
	if keep := os.Getenv("ODBACKUP_KEEP_PROMTOOL"); keep != "" {
		dir = keep
	}
	var group monitoringv1.RuleGroup
	group.Name = name
	for _, alert := range []string{"Overdue", "Failed", "Suspended"} {
		for a, r := range rules {
			if strings.HasSuffix(a, alert) {
				group.Rules = append(group.Rules, r)
			}
		}
	}
	write := func(file string, v any) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(name+".rules.yaml", alerts.RulesFile{Groups: []monitoringv1.RuleGroup{group}})
	var stepTests, dayTests []testGroup
	for _, g := range tests {
		if g.AlertTests[0].Alertname == alerts.SuspendedAlert {
			dayTests = append(dayTests, g)
		} else {
			stepTests = append(stepTests, g)
		}
	}
	return []string{
		write(name+".test.yaml", testFile{RuleFiles: []string{name + ".rules.yaml"}, EvaluationInterval: seconds(step), Tests: stepTests}),
		write(name+".suspended.test.yaml", testFile{RuleFiles: []string{name + ".rules.yaml"}, EvaluationInterval: "1h", Tests: dayTests}),
	}
}

// runPromtool runs `promtool test rules` on test files.
func runPromtool(t *testing.T, bin string, files []string) {
	t.Helper()
	if out, err := exec.Command(bin, append([]string{"test", "rules"}, files...)...).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

// TestExampleRules: every example's rules file passes `promtool check
// rules`, the PrometheusRule holds the same group, every CronJob has its
// three rules with the site's labels, and `promtool test rules` proves each
// alert fires and stays silent as it should. The overdue threshold is
// computed from the CronJob manifest (schedule, time zone, deadlines), not
// taken from the rule.
func TestExampleRules(t *testing.T) {
	bin := promtool(t)
	for site, tree := range testsite.Trees(t, "../../examples") {
		dir := t.TempDir()
		rulesPath := filepath.Join(dir, "rules.yaml")
		if err := os.WriteFile(rulesPath, tree["alerts/rules.yaml"], 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "check", "rules", rulesPath).CombinedOutput(); err != nil {
			t.Fatalf("%s: promtool check rules: %v\n%s", site, err, out)
		}
		var file alerts.RulesFile
		if err := yaml.UnmarshalStrict(tree["alerts/rules.yaml"], &file); err != nil || len(file.Groups) != 1 {
			t.Fatalf("%s: rules.yaml: %v (%d groups)", site, err, len(file.Groups))
		}
		var pr monitoringv1.PrometheusRule
		if err := yaml.UnmarshalStrict(tree["alerts/prometheusrule.yaml"], &pr); err != nil {
			t.Fatalf("%s: prometheusrule.yaml: %v", site, err)
		}
		if a, b := mustJSON(t, pr.Spec.Groups), mustJSON(t, file.Groups); a != b {
			t.Errorf("%s: the PrometheusRule and the rules file differ", site)
		}
		group := file.Groups[0]
		ruleCount := 0
		var files []string
		for _, p := range tree.Paths() {
			if !strings.HasPrefix(p, "cronjobs/") {
				continue
			}
			var cj batchv1.CronJob
			if err := yaml.UnmarshalStrict(tree[p], &cj); err != nil {
				t.Fatalf("%s/%s: %v", site, p, err)
			}
			rules := cronJobRules(t, group, cj.Name)
			ruleCount += len(rules)
			kind := alerts.KindBackup
			if _, ok := cj.Annotations["odbackup.io/target"]; ok {
				kind = alerts.KindMaintenance
			}
			if cj.Labels["odbackup.io/drill"] == "true" {
				kind = alerts.KindDrill
			}
			for alert, r := range rules {
				l := r.Labels
				if l["site"] != site || l["namespace"] != cj.Namespace || l["app"] != cj.Labels["odbackup.io/app"] {
					t.Errorf("%s/%s: %s labels %v do not match the CronJob", site, cj.Name, alert, l)
				}
				// The same stores; the label lists them sorted, the
				// annotation in the order the job backs them up.
				if stores := cj.Annotations["odbackup.io/stores"]; kind == alerts.KindBackup && !sameSet(l["stores"], stores) {
					t.Errorf("%s/%s: %s stores %q, the CronJob backs up %q", site, cj.Name, alert, l["stores"], stores)
				}
				if l["stores"] == "" {
					t.Errorf("%s/%s: %s names no store", site, cj.Name, alert)
				}
				if r.Annotations["runbook_url"] == "" && r.Annotations["runbook"] == "" {
					t.Errorf("%s/%s: %s has no runbook", site, cj.Name, alert)
				}
			}
			overdue := overdueOf(t, &cj)
			checkThreshold(t, site+"/"+cj.Name, rules[alerts.OverdueAlert(kind)], overdue)
			step := evaluationStep(overdue)
			files = append(files, promtoolFiles(t, dir, cj.Name, step, rules, cronJobTests(t, cj.Namespace, cj.Name, kind, overdue, step, rules))...)
		}
		runPromtool(t, bin, files)
		if ruleCount != len(group.Rules) {
			t.Errorf("%s: %d rules, %d of them for the site's CronJobs", site, len(group.Rules), ruleCount)
		}
	}
}

// overdueOf is the CronJob's RPO in its time zone plus its deadlines.
func overdueOf(t *testing.T, cj *batchv1.CronJob) time.Duration {
	t.Helper()
	loc, err := schedule.Location(*cj.Spec.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	g, err := schedule.Analyze(cj.Spec.Schedule, loc)
	if err != nil {
		t.Fatal(err)
	}
	return g.RPO + time.Duration(*cj.Spec.StartingDeadlineSeconds+*cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds)*time.Second
}

// evaluationStep keeps a promtool test to at most about 150 evaluations
// (promtool evaluates every rule at every step up to the last eval time):
// a minute for an hourly job, 15 minutes for a daily one, 6 hours for a
// monthly one. Every step divides a day.
func evaluationStep(overdue time.Duration) time.Duration {
	for _, step := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour} {
		if overdue/step <= 150 {
			return step
		}
	}
	return 6 * time.Hour
}

// checkThreshold: both branches of the overdue rule compare with the
// threshold to the second.
func checkThreshold(t *testing.T, where string, rule monitoringv1.Rule, overdue time.Duration) {
	t.Helper()
	if got, want := strings.Count(rule.Expr.String(), fmt.Sprintf(") > %d\n", int64(overdue/time.Second))), 2; got != want {
		t.Errorf("%s: %s compares with %d seconds in %d places, want %d:\n%s", where, rule.Alert, int64(overdue/time.Second), got, want, rule.Expr.String())
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestDrillRules: a drill CronJob, which no generator emits yet, gets the
// same rule shapes under its own names, and promtool proves them on a
// monthly schedule.
func TestDrillRules(t *testing.T) {
	bin := promtool(t)
	site := alerts.Site{Name: "school", Namespace: "opendesk", RunbookBaseURL: "https://docs.example.org/backup/"}
	drill := alerts.CronJob{
		Name: "odbackup-drill-nextcloud", App: "nextcloud", Stores: []string{"nextcloud/postgresql/nextcloud"},
		Kind: alerts.KindDrill, Schedule: "10 4 1 * *", TimeZone: "Europe/Berlin",
		StartingDeadline: 30 * time.Minute, ActiveDeadline: 6 * time.Hour,
	}
	group, err := alerts.Group(site, []alerts.CronJob{drill})
	if err != nil {
		t.Fatal(err)
	}
	rules := cronJobRules(t, group, drill.Name)
	failed := rules["OdbackupDrillFailed"]
	if failed.Labels["severity"] != "critical" {
		t.Errorf("a failed drill is %q, want critical", failed.Labels["severity"])
	}
	if got, want := failed.Annotations["runbook_url"], "https://docs.example.org/backup/school/runbooks/nextcloud.html"; got != want {
		t.Errorf("runbook_url %q, want %q", got, want)
	}
	overdue, err := alerts.Overdue(drill)
	// October 1 to November 1, autumn's hour included.
	if want := 31*24*time.Hour + time.Hour + 6*time.Hour + 30*time.Minute; err != nil || overdue != want {
		t.Errorf("Overdue(monthly drill) = %v, %v; want %v", overdue, err, want)
	}
	checkThreshold(t, drill.Name, rules["OdbackupDrillOverdue"], overdue)
	step := evaluationStep(overdue)
	runPromtool(t, bin, promtoolFiles(t, t.TempDir(), drill.Name, step, rules, cronJobTests(t, site.Namespace, drill.Name, alerts.KindDrill, overdue, step, rules)))
}

// sameSet reports whether two comma-separated lists hold the same items.
func sameSet(a, b string) bool {
	x, y := strings.Split(a, ","), strings.Split(b, ",")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
