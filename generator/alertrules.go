package generator

import (
	"path"
	"slices"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"

	"github.com/odbackup/odbackup/generator/alerts"
	"github.com/odbackup/odbackup/generator/manifest"
)

// Where the alert rules go in the site folder.
const (
	alertsPrometheusRule = "alerts/prometheusrule.yaml"
	alertsRulesFile      = "alerts/rules.yaml"
)

// alertCronJobs lists the site's CronJobs for the alert rules, with the
// deadlines their manifests carry (jobDeadlines, as cronJob sets them).
func (g *generation) alertCronJobs() ([]alerts.CronJob, error) {
	pol := g.Plan.Site.Policy
	var jobs []alerts.CronJob
	add := func(name, app string, stores []string, kind alerts.Kind, spec string, maxActive int64) error {
		start, active, err := jobDeadlines(spec, pol.Schedule.TimeZone, maxActive)
		if err != nil {
			return err
		}
		jobs = append(jobs, alerts.CronJob{
			Name: name, App: app, Stores: stores, Kind: kind, Schedule: spec, TimeZone: pol.Schedule.TimeZone,
			StartingDeadline: time.Duration(start) * time.Second, ActiveDeadline: time.Duration(active) * time.Second,
		})
		return nil
	}
	for _, j := range g.Plan.Jobs {
		var ids []string
		for _, st := range j.Steps {
			ids = append(ids, st.Store.ID)
		}
		if err := add(j.Name, j.App.ID, slices.Compact(ids), alerts.KindBackup, j.Schedule, backupDeadlineSeconds); err != nil {
			return nil, err
		}
	}
	// A drill that fails or stops running says a backup may not restore.
	for _, d := range g.Plan.Drills {
		var ids []string
		for _, st := range d.Steps {
			ids = append(ids, st.Store.ID)
		}
		if err := add(d.Name, d.App.ID, slices.Compact(ids), alerts.KindDrill, d.Schedule, drillDeadlineSeconds); err != nil {
			return nil, err
		}
	}
	for _, m := range g.Plan.Maintenance {
		var ids []string
		for _, st := range m.Steps {
			ids = append(ids, st.Store.ID)
		}
		slices.Sort(ids)
		if err := add(m.Name, "", slices.Compact(ids), alerts.KindMaintenance, m.Schedule, maintenanceDeadlineSeconds); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// addAlerts writes the site's alert rules to alerts/: the PrometheusRule
// and the same group as a plain rules file. It returns the files that go
// into the kustomization: the PrometheusRule when the policy says so (it
// needs the Prometheus Operator's CRDs), never the rules file, which is
// not a Kubernetes object.
func (g *generation) addAlerts(tree Tree) ([]string, error) {
	pol := g.Plan.Site.Policy
	jobs, err := g.alertCronJobs()
	if err != nil {
		return nil, err
	}
	site := alerts.Site{Name: pol.Site, Namespace: pol.Namespace, RunbookBaseURL: pol.Alerts.RunbookBaseURL}
	group, err := alerts.Group(site, jobs)
	if err != nil {
		return nil, err
	}
	if err := tree.Add(alertsPrometheusRule, g.YAML(alerts.PrometheusRule(site, group, manifest.ObjectLabels(pol.Site, "")))); err != nil {
		return nil, err
	}
	if err := tree.Add(alertsRulesFile, g.YAML(&alerts.RulesFile{Groups: []monitoringv1.RuleGroup{group}})); err != nil {
		return nil, err
	}
	if err := g.Err(); err != nil {
		return nil, err
	}
	if pol.Alerts.InKustomization {
		return []string{path.Clean(alertsPrometheusRule)}, nil
	}
	return nil, nil
}
