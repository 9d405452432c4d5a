package plan

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/odbackup/odbackup/generator/schedule"
	"github.com/odbackup/odbackup/schema"
)

// Method is how one store is backed up: the name of a Kind, in the
// coverage report and the restore runbooks.
type Method string

// Kind is what the planner needs of one way of backing up a store. Each kind
// lives in a file of its own (see the generator package, which adds what
// emitting needs); the planner asks every kind of the registry it is given
// whether it backs a store, and a step remembers its kind so everything
// downstream asks the kind rather than switching over methods.
type Kind interface {
	// Method names the kind.
	Method() Method
	// Backs reports whether the kind backs up st. A store can be backed
	// up by several kinds (a volume snapshot and a logical export).
	Backs(st *schema.SiteStore) bool
	// GroupOrder is the place, in a consistency group, of the stores the
	// kind backs up first (see New).
	GroupOrder() int
	// Traits says how the kind's backups behave.
	Traits() Traits
	// Kept is what a step of this kind keeps of the store's past under the
	// store's retention and the policy's snapshot settings.
	Kept(r schema.Retention, snap schema.Snapshot) Kept
}

// Traits are the properties of a kind that code outside it reads.
type Traits struct {
	// Restic: the data goes to a restic repository of a target and is
	// pruned by the maintenance job.
	Restic bool
	// VolumeSnapshots: the data stays on the cluster's own storage as CSI
	// VolumeSnapshots; the step has no target and the site needs its
	// VolumeSnapshotClass.
	VolumeSnapshots bool
	// BucketMirror: the data is mirrored to the target's bucket mirror,
	// outside restic.
	BucketMirror bool
	// Export: a logical export of a store that another kind backs up too;
	// its container is named after the export, its restore is the fallback
	// for that store and comes after the other kinds' restores.
	Export bool
	// ContainerPrefix names the step's container "<prefix><identifier>"
	// instead of "<store kind>-<identifier>": a second kind of a store
	// needs a container name of its own in the job's pod.
	ContainerPrefix string
}

// UsesRestic reports whether a step's data goes to a restic repository.
func (s *Step) UsesRestic() bool { return s.Kind.Traits().Restic }

// Plan is everything odbackup will generate for one site.
type Plan struct {
	Site *schema.Site
	// kinds is the registry the plan was made with.
	kinds []Kind
	// Jobs are the backup CronJobs, sorted by name.
	Jobs []*Job
	// Maintenance are the restic maintenance CronJobs, one per target used.
	Maintenance []*MaintenanceJob
	// Steps are all backup steps of all jobs, in job order.
	Steps []*Step
	// Drills are the restore drill CronJobs, one per app, in job order;
	// DrillsOff the apps whose drill the policy turned off.
	Drills    []*Drill
	DrillsOff []DrillOff
}

// Job is one backup CronJob: one app's stores, backed up together and in
// order (a consistency group), or one store the policy split out.
type Job struct {
	Name  string
	Site  string
	App   *schema.SiteApp
	Steps []*Step
	// Schedule is the cron schedule; Derived is true when odbackup placed
	// it in the backup window rather than the policy naming it.
	Schedule  string
	Derived   bool
	Resources schema.Resources
}

// Step backs up one store with one method, as one container of the job's
// pod. A store can have two steps (a PVC snapshot and a logical export).
type Step struct {
	Job    *Job
	Store  *schema.SiteStore
	Method Method
	// Kind is the step's kind: everything downstream asks it.
	Kind      Kind
	Container string
	// TargetName and Target are where the data goes (not for CSI
	// snapshots, which stay on the cluster's storage).
	TargetName string
	Target     *schema.Target
	Retention  schema.Retention
	// Kept is what the step keeps, in its method's terms (see keptBy).
	Kept Kept
}

// MaintenanceJob runs restic unlock, forget (per store, with the store's
// retention), prune and check on one repository.
type MaintenanceJob struct {
	Name       string
	TargetName string
	Target     schema.Target
	Schedule   string
	Steps      []*Step
}

// New decides, for every store the site backs up, its method, job,
// schedule, retention and target.
//
// kinds is the registry: every way of backing up a store, in the order a
// store's steps run (a logical export after the store's own kind).
func New(site *schema.Site, kinds []Kind) (*Plan, error) {
	p := &Plan{Site: site, kinds: kinds}
	pol := site.Policy
	for _, app := range site.Apps {
		var stores []*schema.SiteStore
		for _, st := range app.Stores {
			if st.Status == schema.StatusBackup {
				stores = append(stores, st)
			}
		}
		if len(stores) == 0 {
			continue
		}
		slices.SortStableFunc(stores, func(a, b *schema.SiteStore) int {
			return cmp.Or(cmp.Compare(p.StoreOrder(a), p.StoreOrder(b)), cmp.Compare(a.ID, b.ID))
		})
		var group []*schema.SiteStore
		for _, st := range stores {
			if app.Settings.SplitStores || st.Decision.Schedule != "" {
				p.addJob(app, []*schema.SiteStore{st}, jobName(app.ID, st.Kind, st.Store.Identifier))
				continue
			}
			group = append(group, st)
		}
		if len(group) > 0 {
			p.addJob(app, group, jobName(app.ID))
		}
	}
	slices.SortFunc(p.Jobs, func(a, b *Job) int { return cmp.Compare(a.Name, b.Name) })
	seen := map[string]bool{}
	for _, j := range p.Jobs {
		if seen[j.Name] {
			return nil, fmt.Errorf("two backup jobs of site %s would be named %s", pol.Site, j.Name)
		}
		seen[j.Name] = true
		p.Steps = append(p.Steps, j.Steps...)
	}
	p.planMaintenance()
	p.planDrills()
	for _, d := range p.Drills {
		if seen[d.Name] {
			return nil, fmt.Errorf("a drill and a backup job of site %s would both be named %s", pol.Site, d.Name)
		}
		seen[d.Name] = true
	}
	return p, nil
}

func (p *Plan) addJob(app *schema.SiteApp, stores []*schema.SiteStore, name string) {
	pol := p.Site.Policy
	j := &Job{Name: name, Site: pol.Site, App: app, Resources: pol.Resources}
	if app.Settings.Resources != nil {
		j.Resources = *app.Settings.Resources
	}
	switch {
	case len(stores) == 1 && stores[0].Decision.Schedule != "":
		j.Schedule = stores[0].Decision.Schedule
	case app.Settings.Schedule != "":
		j.Schedule = app.Settings.Schedule
	default:
		j.Schedule, j.Derived = windowSchedule(name, pol.Schedule), true
	}
	for _, st := range stores {
		retention := app.Settings.Retention.Apply(pol.Retention)
		retention = st.Decision.Retention.Apply(retention)
		target := cmp.Or(st.Decision.Target, app.Settings.Target, defaultTarget(pol))
		for _, k := range p.kindsOf(st) {
			s := &Step{Job: j, Store: st, Method: k.Method(), Kind: k, Retention: retention, Kept: k.Kept(retention, pol.Snapshot)}
			if !k.Traits().VolumeSnapshots {
				t := pol.Targets[target]
				s.TargetName, s.Target = target, &t
			}
			s.Container = containerName(st, k)
			j.Steps = append(j.Steps, s)
		}
	}
	p.Jobs = append(p.Jobs, j)
}

// kindsOf returns the kinds that back up a store, in registry order.
func (p *Plan) kindsOf(st *schema.SiteStore) []Kind {
	var ks []Kind
	for _, k := range p.kinds {
		if k.Backs(st) {
			ks = append(ks, k)
		}
	}
	return ks
}

// Kinds is the registry the plan was made with, in its order.
func (p *Plan) Kinds() []Kind { return p.kinds }

// StoreOrder is a store's place in its app's consistency group: small state
// first, then databases, then bucket copies (objects deleted after the
// database dump are still in the mirror's archive), then volume snapshots.
// It is the GroupOrder of the first kind that backs the store up.
func (p *Plan) StoreOrder(st *schema.SiteStore) int {
	for _, k := range p.kinds {
		if k.Backs(st) {
			return k.GroupOrder()
		}
	}
	return 0
}

// defaultTarget is the policy's defaultTarget, or its only target.
func defaultTarget(pol *schema.Policy) string {
	if pol.DefaultTarget != "" {
		return pol.DefaultTarget
	}
	for name := range pol.Targets {
		if len(pol.Targets) == 1 {
			return name
		}
	}
	return ""
}

func (p *Plan) planMaintenance() {
	byTarget := map[string][]*Step{}
	for _, s := range p.Steps {
		if s.UsesRestic() {
			byTarget[s.TargetName] = append(byTarget[s.TargetName], s)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byTarget)) {
		p.Maintenance = append(p.Maintenance, &MaintenanceJob{
			Name:       DNSName(52, "odbackup-restic", name),
			TargetName: name,
			Target:     p.Site.Policy.Targets[name],
			Schedule:   p.Site.Policy.Maintenance.Schedule,
			Steps:      byTarget[name],
		})
	}
}

// windowSchedule places a job in the backup window at a minute derived from
// a hash of its name: stable across runs, spread across a site's jobs. A
// minute the site's time zone skips once a year (02:xx in Europe/Berlin on
// the spring change) moves out of the skipped hour, as the cron library
// would run no job on that night. (An unknown zone is `odbackup vet`'s to
// report; the CronJob's deadlines fail on it.)
func windowSchedule(name string, s schema.Schedule) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	offset := int(h.Sum32() % uint32(s.Window.Hours*60))
	startH, _ := strconv.Atoi(s.Window.Start[:2])
	startM, _ := strconv.Atoi(s.Window.Start[3:])
	at := (startH*60 + startM + offset) % (24 * 60)
	if loc, err := schedule.Location(s.TimeZone); err == nil {
		at = schedule.AvoidSkipped(at, startH*60+startM, s.Window.Hours*60, loc)
	}
	return fmt.Sprintf("%d %d * * *", at%60, at/60)
}

func jobName(parts ...string) string {
	return DNSName(52, append([]string{"odbackup"}, parts...)...)
}

func containerName(st *schema.SiteStore, k Kind) string {
	name := st.Kind + "-" + st.Store.Identifier
	if k.Traits().Export {
		name = "export-" + st.Store.Identifier
	}
	if p := k.Traits().ContainerPrefix; p != "" {
		name = p + st.Store.Identifier
	}
	return DNSName(63, name)
}

// DNSName joins parts into a DNS-1123 label of at most max characters; a
// name that had to be shortened or changed keeps a hash of the original, so
// distinct inputs stay distinct.
func DNSName(max int, parts ...string) string {
	raw := strings.Join(parts, "-")
	var b strings.Builder
	for _, r := range strings.ToLower(raw) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	name := CollapseDashes(b.String())
	if name == raw && len(name) <= max {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(raw))
	suffix := fmt.Sprintf("-%08x", h.Sum32())[:7]
	if len(name)+len(suffix) > max {
		name = strings.TrimRight(name[:max-len(suffix)], "-")
	}
	return name + suffix
}

// CollapseDashes turns runs of dashes into one and trims dashes at both ends.
func CollapseDashes(s string) string {
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return strings.Trim(s, "-")
}

// UsesSnapshots reports whether any step creates VolumeSnapshots (the
// site then needs its VolumeSnapshotClass).
func (p *Plan) UsesSnapshots() bool {
	for _, s := range p.Steps {
		if s.Kind.Traits().VolumeSnapshots {
			return true
		}
	}
	return false
}
