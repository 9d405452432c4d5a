package plan

import (
	"fmt"
	"hash/fnv"

	"github.com/odbackup/odbackup/schema"
)

// DrillKind is a Kind whose backups a restore drill can restore into
// scratch space, or sample, and check. Kinds that cannot (volume
// snapshots) do not implement it and their stores have no drill.
type DrillKind interface {
	Kind
	// Drills reports whether the kind's backup of st is drilled.
	Drills(st *schema.SiteStore) bool
}

// Drill is one app's restore drill CronJob: it restores the newest backup
// of each of Steps into scratch space and checks it.
type Drill struct {
	Name  string
	Site  string
	App   *schema.SiteApp
	Steps []*Step
	// Schedule is the cron schedule; Derived is true when odbackup placed
	// it (monthly) rather than the policy naming it.
	Schedule string
	Derived  bool
}

// DrillOff is an app whose drill the policy turned off, and why.
type DrillOff struct {
	App    *schema.SiteApp
	Reason string
}

// planDrills gives every app with drillable steps its drill, unless the
// policy turned it off. Steps come in job order, so a drill checks an
// app's stores in the order they are backed up.
func (p *Plan) planDrills() {
	byApp := map[string][]*Step{}
	var apps []*schema.SiteApp
	for _, s := range p.Steps {
		k, ok := s.Kind.(DrillKind)
		if !ok || !k.Drills(s.Store) {
			continue
		}
		id := s.Job.App.ID
		if _, seen := byApp[id]; !seen {
			apps = append(apps, s.Job.App)
		}
		byApp[id] = append(byApp[id], s)
	}
	for _, app := range apps {
		d := app.Settings.Drill
		if d != nil && d.Disabled != nil {
			p.DrillsOff = append(p.DrillsOff, DrillOff{App: app, Reason: d.Disabled.Reason})
			continue
		}
		name := DNSName(52, "odbackup-drill", app.ID)
		dr := &Drill{Name: name, Site: p.Site.Policy.Site, App: app, Steps: byApp[app.ID]}
		if d != nil && d.Schedule != "" {
			dr.Schedule = d.Schedule
		} else {
			dr.Schedule, dr.Derived = monthlySchedule(name, p.Site.Policy.Schedule), true
		}
		p.Drills = append(p.Drills, dr)
	}
}

// monthlySchedule places a drill once a month: on a day of month (1-28,
// so every month has it) and at a minute inside the backup window, both
// derived from a hash of its name.
func monthlySchedule(name string, s schema.Schedule) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	day := 1 + int(h.Sum32()%28)
	var minute, hour int
	fmt.Sscanf(windowSchedule(name, s), "%d %d", &minute, &hour)
	return fmt.Sprintf("%d %d %d * *", minute, hour, day)
}

// DrillOf is the drill that checks a backup step, or nil.
func (p *Plan) DrillOf(st *Step) *Drill {
	for _, d := range p.Drills {
		for _, s := range d.Steps {
			if s == st {
				return d
			}
		}
	}
	return nil
}

// DrillOffOf is the decision that turned off the drill of a step, or nil
// (also when the step's kind has no drill).
func (p *Plan) DrillOffOf(st *Step) *DrillOff {
	if k, ok := st.Kind.(DrillKind); !ok || !k.Drills(st.Store) {
		return nil
	}
	for i := range p.DrillsOff {
		if p.DrillsOff[i].App.ID == st.Job.App.ID {
			return &p.DrillsOff[i]
		}
	}
	return nil
}
