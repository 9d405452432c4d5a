package generator

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/odbackup/odbackup/generator/schedule"
	"github.com/odbackup/odbackup/schema"
)

// Method is how one store is backed up.
type Method string

// The methods of DESIGN §3.
const (
	// MethodPgDump streams pg_dump --format=custom into restic.
	MethodPgDump Method = "pg_dump"
	// MethodMariaDBDump streams mariadb-dump per database into restic;
	// wildcard identifiers are resolved at run time.
	MethodMariaDBDump Method = "mariadb-dump"
	// MethodBucketMirror copies a bucket with rclone sync into an rclone
	// crypt remote, keeping replaced and deleted objects in dated archives.
	MethodBucketMirror Method = "rclone-crypt"
	// MethodCSISnapshot creates a CSI VolumeSnapshot of a PVC and prunes
	// old ones.
	MethodCSISnapshot Method = "csi-snapshot"
	// MethodCassandraSnapshot flushes and snapshots a keyspace with
	// nodetool in the Cassandra pod and streams the snapshot into restic.
	MethodCassandraSnapshot Method = "nodetool-snapshot"
	// MethodRedisRDB streams redis-cli --rdb into restic.
	MethodRedisRDB Method = "redis-rdb"
	// MethodObjectExport streams kubectl get -o yaml of a ConfigMap or
	// Secret into restic.
	MethodObjectExport Method = "kubectl-export"
	// MethodExecExport streams a command's output in a running pod into
	// restic (openLDAP's slapcat).
	MethodExecExport Method = "exec-export"
)

// UsesRestic reports whether the method's data goes to a restic repository.
func (m Method) UsesRestic() bool {
	switch m {
	case MethodBucketMirror, MethodCSISnapshot:
		return false
	}
	return true
}

// Plan is everything odbackup will generate for one site.
type Plan struct {
	Site *schema.Site
	// Jobs are the backup CronJobs, sorted by name.
	Jobs []*Job
	// Maintenance are the restic maintenance CronJobs, one per target used.
	Maintenance []*MaintenanceJob
	// Steps are all backup steps of all jobs, in job order.
	Steps []*Step
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
	Job       *Job
	Store     *schema.SiteStore
	Method    Method
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

// kindOrder is the order of a consistency group: small state first, then
// databases, then bucket copies (objects deleted after the database dump are
// still in the mirror's archive), then volume snapshots.
var kindOrder = map[string]int{
	"configmap": 0, "secret": 0,
	"postgresql": 1, "mariadb": 1, "cassandra": 1, "redis": 1,
	"s3":  2,
	"pvc": 3,
}

// NewPlan decides, for every store the site backs up, its method, job,
// schedule, retention and target.
func NewPlan(site *schema.Site) (*Plan, error) {
	p := &Plan{Site: site}
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
			return cmp.Or(cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]), cmp.Compare(a.ID, b.ID))
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
		for _, m := range methods(st) {
			s := &Step{Job: j, Store: st, Method: m, Retention: retention, Kept: keptBy(m, retention, pol.Snapshot)}
			if m != MethodCSISnapshot {
				t := pol.Targets[target]
				s.TargetName, s.Target = target, &t
			}
			s.Container = containerName(st, m)
			j.Steps = append(j.Steps, s)
		}
	}
	p.Jobs = append(p.Jobs, j)
}

// methods returns how a store is backed up: its kind's method, plus a
// logical export when the catalog names one.
func methods(st *schema.SiteStore) []Method {
	var ms []Method
	switch st.Kind {
	case "postgresql":
		ms = append(ms, MethodPgDump)
	case "mariadb":
		ms = append(ms, MethodMariaDBDump)
	case "s3":
		ms = append(ms, MethodBucketMirror)
	case "pvc":
		ms = append(ms, MethodCSISnapshot)
	case "cassandra":
		ms = append(ms, MethodCassandraSnapshot)
	case "redis":
		ms = append(ms, MethodRedisRDB)
	case "configmap", "secret":
		ms = append(ms, MethodObjectExport)
	}
	if st.Export != nil {
		ms = append(ms, MethodExecExport)
	}
	return ms
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
		if s.Method.UsesRestic() {
			byTarget[s.TargetName] = append(byTarget[s.TargetName], s)
		}
	}
	for _, name := range sortedKeys(byTarget) {
		p.Maintenance = append(p.Maintenance, &MaintenanceJob{
			Name:       dnsName(52, "odbackup-restic", name),
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
	return dnsName(52, append([]string{"odbackup"}, parts...)...)
}

func containerName(st *schema.SiteStore, m Method) string {
	name := st.Kind + "-" + st.Store.Identifier
	if m == MethodExecExport {
		name = "export-" + st.Store.Identifier
	}
	return dnsName(63, name)
}

// dnsName joins parts into a DNS-1123 label of at most max characters; a
// name that had to be shortened or changed keeps a hash of the original, so
// distinct inputs stay distinct.
func dnsName(max int, parts ...string) string {
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
	name := collapseDashes(b.String())
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

func collapseDashes(s string) string {
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return strings.Trim(s, "-")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
