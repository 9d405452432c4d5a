package runbook

import (
	"fmt"
	"slices"
	"strings"

	"github.com/odbackup/odbackup/generator/diagram"
	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/shell"
	"github.com/odbackup/odbackup/schema"
)

// siteRunbook is runbooks/README.md: what must exist before any restore,
// the order of a site-wide restore, and how to find the backups.
func (rb *runbooks) siteRunbook(apps []*schema.SiteApp) []byte {
	m := &markdown.Doc{}
	m.Heading(1, "Disaster recovery: %s", rb.pol.Site)
	m.Para("%s", rb.siteLine())
	m.Note(generatedNote)
	m.Para("openDesk runs its apps (files, mail, calendar, chat, projects, wiki, identity) in one Kubernetes namespace. Each app keeps its data in stores: PostgreSQL or MariaDB databases, S3 buckets, volumes (PVCs), a few ConfigMaps. odbackup backs up each store the site's policy covers: databases and exports into restic repositories, buckets into encrypted mirrors, volumes as CSI snapshots. To restore, you run a generated Kubernetes Job per store, with the app stopped.")
	m.Para("This folder holds the restore runbooks of %s: one page per app, and this page, which says what must exist before any restore, in which order the apps come back when more than one lost data, and how to find the backups. The restore Jobs the runbooks run are in %s; they are not in the kustomization, so nothing applies them by accident. Run the commands in a POSIX shell from the site's output folder (the one that holds %s), with %s pointed at the cluster.",
		markdown.Code(rb.pol.Site), markdown.Code("../restore/"), markdown.Code("kustomization.yaml"), markdown.Code("kubectl"))
	rb.prerequisites(m)
	rb.order(m, apps)
	rb.finding(m)
	rb.beforeUpgrade(m)
	return m.Bytes()
}

// targetsUsed are the targets the site's restic steps write to, sorted.
func (rb *runbooks) targetsUsed() []string {
	var names []string
	for _, s := range rb.plan.Steps {
		if s.UsesRestic() && !slices.Contains(names, s.TargetName) {
			names = append(names, s.TargetName)
		}
	}
	slices.Sort(names)
	return names
}

func (rb *runbooks) prerequisites(m *markdown.Doc) {
	m.Heading(2, "1. What must exist first")
	m.Para("%s", rb.preflightItem())
	var env []string
	refs := map[string][]string{}
	addRefs := func(what string, refsOf ...schema.SecretKeyRef) {
		for _, r := range refsOf {
			key := markdown.Code(r.Name) + " | " + markdown.Code(r.Key)
			if _, ok := refs[key]; !ok {
				env = append(env, key)
			}
			if !slices.Contains(refs[key], what) {
				refs[key] = append(refs[key], what)
			}
		}
	}
	hasMirror := false
	for _, name := range rb.targetsUsed() {
		t := rb.pol.Targets[name]
		addRefs("restic password of target "+markdown.Code(name), t.Restic.PasswordSecret)
		if c := t.Restic.S3Credentials; c != nil {
			addRefs("S3 credentials of target "+markdown.Code(name), c.AccessKeyID, c.SecretAccessKey)
		}
		if c := t.Restic.RESTCredentials; c != nil {
			addRefs("REST server login of target "+markdown.Code(name), c.Username, c.Password)
		}
		if m := t.Restic.Maintenance; m != nil && m.CredentialsSecret != "" {
			mt := t.ForMaintenance()
			what := "maintenance credentials of target " + markdown.Code(name) + " (only the maintenance and the Job that creates the repository read them)"
			if c := mt.Restic.S3Credentials; c != nil {
				addRefs(what, c.AccessKeyID, c.SecretAccessKey)
			}
			if c := mt.Restic.RESTCredentials; c != nil {
				addRefs(what, c.Username, c.Password)
			}
		}
	}
	for _, s := range rb.plan.Steps {
		if !s.Kind.Traits().BucketMirror {
			continue
		}
		hasMirror = true
		bm := s.Target.BucketMirror
		addRefs("bucket mirror credentials of target "+markdown.Code(s.TargetName), bm.Credentials.AccessKeyID, bm.Credentials.SecretAccessKey)
		addRefs("rclone crypt password and salt of target "+markdown.Code(s.TargetName), bm.Encryption.PasswordSecret, bm.Encryption.SaltSecret)
	}
	slices.Sort(env)
	var rows [][]string
	var names []string
	for _, k := range env {
		parts := strings.SplitN(k, " | ", 2)
		rows = append(rows, []string{parts[0], parts[1], strings.Join(refs[k], "; ")})
		name := strings.Trim(parts[0], "`")
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	deploy := fmt.Sprintf("openDesk %s, deployed by its helmfile into namespace %s. Restore into the release that was backed up: the databases' schemas belong to it; upgrade after the restore, not before. If the namespace or the cluster is lost, deploy openDesk first, with the same %s, so the passwords openDesk derives from it (databases, buckets) are the same again; then restore the stores into the fresh, empty apps.",
		rb.pol.Release, markdown.Code(rb.pol.Namespace), markdown.Code("MASTER_PASSWORD"))
	items := []string{deploy}
	if len(rows) > 0 {
		items = append(items, "odbackup's own Secrets, which the backup and restore Jobs read. openDesk does not create them; keep their values outside the cluster as well (a password manager or vault): without the restic password"+map[bool]string{true: " and the rclone crypt password and salt", false: ""}[hasMirror]+", nobody can read the backups.")
	}
	for _, name := range rb.targetsUsed() {
		t := rb.pol.Targets[name]
		items = append(items, fmt.Sprintf("The restic repository %s (target %s), reachable from the cluster. %s shows what it holds (see %s for the environment). On a new target, create it once, before the first backup, with the Job in %s (no backup creates a repository: two jobs creating one at the same time leave it unreadable); it is safe to run again, and says so when the repository exists:\n\n```sh\n%s\n```",
			markdown.Code(t.Restic.Repository), markdown.Code(name), markdown.Code("restic snapshots --host="+rb.pol.Site), markdown.Link("Finding the backups", "#3-finding-the-backups"),
			markdown.Link(markdown.Code(shell.RepositoryInitFile(name)), "../"+shell.RepositoryInitFile(name)),
			rb.Kubectl("apply -f "+shell.RepositoryInitFile(name))+"\n"+rb.Kubectl("wait --for=condition=complete --timeout=10m job/"+shell.RepositoryInitJob(name))+"\n"+rb.Kubectl("logs job/"+shell.RepositoryInitJob(name))))
		if m := t.Restic.Maintenance; m != nil {
			items[len(items)-1] += "\n\n" + rb.maintenanceCredentials(name, t)
		}
	}
	if rb.plan.UsesSnapshots() {
		items = append(items, fmt.Sprintf("For volumes: the cluster's CSI snapshot controller and the VolumeSnapshotClass %s (driver %s, file %s, applied with the kustomization): %s. A CSI snapshot lives on the same storage system as its volume. It protects against deleted or damaged data, not against losing that storage system: if the storage is lost, the snapshots are lost with it, and volumes without another copy (%s) can only be restored from a copy of the storage system itself.",
			markdown.Code(rb.pol.Snapshot.ClassName), markdown.Code(rb.pol.Snapshot.Driver), markdown.Link(markdown.Code("snapshotclass/"+rb.pol.Snapshot.ClassName+".yaml"), "../snapshotclass/"+rb.pol.Snapshot.ClassName+".yaml"),
			markdown.Code("kubectl get volumesnapshotclass "+rb.pol.Snapshot.ClassName), rb.snapshotOnly()))
	}
	items = append(items, fmt.Sprintf("odbackup's manifests applied (%s from this folder): the backup CronJobs resume the backups once the restore is verified; each runbook suspends the CronJob of its app while it restores.", markdown.Code("kubectl apply --kustomize=.")))
	m.Numbered(items...)
	if len(rows) > 0 {
		m.Para("odbackup's Secrets, all in namespace %s:", markdown.Code(rb.pol.Namespace))
		m.Table([]string{"Secret", "key", "holds"}, rows)
		m.CodeBlock("sh", rb.Kubectl("get secret "+strings.Join(names, " ")))
	}
}

// maintenanceCredentials says who uses which credentials of a target whose
// maintenance has its own.
func (rb *runbooks) maintenanceCredentials(name string, t schema.Target) string {
	mt := t.ForMaintenance()
	var how []string
	if s := t.Restic.Maintenance.CredentialsSecret; s != "" {
		how = append(how, "the credentials in Secret "+markdown.Code(s))
	}
	if mt.Restic.Repository != t.Restic.Repository {
		how = append(how, "the URL "+markdown.Code(mt.Restic.Repository))
	}
	return fmt.Sprintf("Target %s has credentials for its maintenance: the restic maintenance CronJob and this Job use %s; the backups, the restores and the drills use the target's own, which the server should keep from deleting anything but restic's locks (README of odbackup, \"Backup credentials that cannot delete backups\"). A restic command that deletes or replaces snapshots (%s, %s, %s, %s) works only with the maintenance's.",
		markdown.Code(name), strings.Join(how, " and "), markdown.Code("forget"), markdown.Code("prune"), markdown.Code("tag"), markdown.Code("rewrite"))
}

// snapshotOnly lists the volumes whose only backup is a CSI snapshot.
func (rb *runbooks) snapshotOnly() string {
	var claims []string
	exported := map[string]bool{}
	for _, s := range rb.plan.Steps {
		if s.Kind.Traits().Export {
			exported[s.Store.ID] = true
		}
	}
	for _, s := range rb.plan.Steps {
		if s.Kind.Traits().VolumeSnapshots && !exported[s.Store.ID] {
			claims = append(claims, markdown.Code(s.Store.Connection.Claim))
		}
	}
	if len(claims) == 0 {
		return "none at this site"
	}
	return strings.Join(claims, ", ")
}

// order is the disaster-recovery order: tiers, then the catalog's order.
func (rb *runbooks) order(m *markdown.Doc, apps []*schema.SiteApp) {
	m.Heading(2, "2. Order of a site-wide restore")
	m.Para("When more than one app lost data, restore them tier by tier: the data services the others run on, then identity (Nubus: the LDAP primary, Keycloak's databases, the provisioning queue), then the applications, which authenticate against Nubus and keep their data in the data services. Within a tier, follow the order below; apps of one tier may be restored in parallel by different people once the tier before is done.")
	order := diagram.New(diagram.Down)
	var tiers []string
	for _, a := range apps {
		if !slices.Contains(tiers, a.Tier) {
			tiers = append(tiers, a.Tier)
		}
	}
	for i, t := range tiers {
		order.AddGroup(markdown.MermaidID("tier_", t), fmt.Sprintf("%d. %s", i+1, tierTitle[t]), diagram.Right)
		prev := ""
		for _, a := range apps {
			if a.Tier != t {
				continue
			}
			id := markdown.MermaidID("app_", a.ID)
			order.AddNode(id, a.Name, markdown.MermaidID("tier_", t), "")
			if prev != "" {
				order.AddEdge(prev, id)
			}
			prev = id
		}
		if i > 0 {
			order.AddEdge(markdown.MermaidID("tier_", tiers[i-1]), markdown.MermaidID("tier_", t))
		}
	}
	m.Diagram(order)
	var rows [][]string
	for i, a := range apps {
		restores := rb.appRestores(a.ID)
		what := "nothing backed up: it comes back with openDesk's deployment"
		if a.Bundled && len(restores) == 0 {
			what = "nothing of its own: redeploy it empty; the apps' runbooks restore their databases and buckets into it"
		}
		if len(restores) > 0 {
			var titles []string
			for _, r := range restores {
				titles = append(titles, restoreTitlePlain(r))
			}
			what = strings.Join(titles, ", ")
		}
		rows = append(rows, []string{fmt.Sprint(i + 1), a.Name, tierTitle[a.Tier], what, markdown.Link(a.ID+".md", a.ID+".md")})
	}
	m.Table([]string{"#", "app", "tier", "restores", "runbook"}, rows)
	var stateless []string
	for _, a := range rb.site.Apps {
		if a.Deployed && len(a.Stores) == 0 {
			stateless = append(stateless, a.Name)
		}
	}
	if len(stateless) > 0 {
		m.Para("Stateless at this site, nothing to restore: %s. They come back with openDesk's deployment.", strings.Join(stateless, ", "))
	}
	if mig := rb.site.App("migrations"); mig != nil && mig.Deployed {
		m.Para("The ConfigMap %s (runbook %s) records which of openDesk's one-shot upgrade migrations have run. Restore it first, before any %s touches the site again.", markdown.Code("migrations-status"), markdown.Link("migrations.md", "migrations.md"), markdown.Code("helmfile apply"))
	}
}

// finding says how to list what each store can be restored from.
func (rb *runbooks) finding(m *markdown.Doc) {
	m.Heading(2, "3. Finding the backups")
	m.Para("Each restore Job restores the backup you name as you apply it, the newest (latest) or another (step 2 of each runbook); applied as it is, it only lists them. To see what there is, use the commands below, or let a restore Job list it for you (%s, also in step 2 of each runbook), which needs nothing on your machine but kubectl.", markdown.Code("ODBACKUP_SNAPSHOT=list"))
	m.Para("A backup Job of several stores backs up every store it can, even when one fails: its last container, %s, then fails the Job, and its log names every store that failed with the container whose log says why. The stores it does not name were backed up by that run.",
		markdown.Code(manifest.RunResultContainer))
	if targets := rb.targetsUsed(); len(targets) > 0 {
		m.Heading(3, "restic: databases, exports, ConfigMaps and Secrets")
		m.Para("Every restic snapshot carries the site as its host (%s) and the tags %s, %s, %s and %s (the run of the backup Job that took it; plus %s, %s or %s where one store has several files). With restic 0.14 or newer on your machine, set up the repository's environment from its Secrets:",
			markdown.Code(rb.pol.Site), markdown.Code("odbackup"), markdown.Code("app=…"), markdown.Code("store=…"), markdown.Code("run=…"), markdown.Code("database=…"), markdown.Code("keyspace=…"), markdown.Code("export=…"))
		for _, name := range targets {
			t := rb.pol.Targets[name]
			m.Para("Target %s:", markdown.Code(name))
			m.CodeBlock("sh", rb.resticExports(&t))
		}
		m.Para("Then list a store's snapshots; the first column is the ID a restore Job takes:")
		var rows [][]string
		seen := map[string]bool{}
		for _, s := range rb.plan.Steps {
			if !s.UsesRestic() || seen[s.Store.ID] {
				continue
			}
			seen[s.Store.ID] = true
			rows = append(rows, []string{markdown.Code(s.Store.ID), markdown.Code(s.TargetName), markdown.Code(shell.SnapshotsCommand(s))})
		}
		m.Table([]string{"store", "target", "command"}, rows)
	}
	if rb.plan.UsesSnapshots() {
		m.Heading(3, "CSI VolumeSnapshots: volumes")
		m.Para("odbackup names a volume's snapshots after its claim, a dash and the UTC time (%s), and labels them with the site, the app and the store; the annotation %s holds the full store id. All of the site's snapshots:", markdown.Code("YYYYMMDD-HHMMSS"), markdown.Code(manifest.AnnotStoreID))
		m.CodeBlock("sh", rb.Kubectl(fmt.Sprintf("get volumesnapshot --selector=%s=%s --sort-by=.metadata.creationTimestamp", manifest.LabelSite, rb.pol.Site)))
		var rows [][]string
		for _, s := range rb.plan.Steps {
			if s.Kind.Traits().VolumeSnapshots {
				rows = append(rows, []string{markdown.Code(s.Store.ID), markdown.Code(s.Store.Connection.Claim), markdown.Code(rb.Kubectl("get volumesnapshot --selector=" + manifest.StoreSelector(s) + " --sort-by=.metadata.creationTimestamp"))})
			}
		}
		m.Table([]string{"store", "claim", "its snapshots"}, rows)
	}
	var buckets []string
	for _, s := range rb.plan.Steps {
		if s.Kind.Traits().BucketMirror {
			buckets = append(buckets, markdown.Code(s.Store.Connection.Bucket))
		}
	}
	if len(buckets) > 0 {
		m.Heading(3, "Bucket mirrors: S3 buckets")
		m.Para("Buckets (%s) are not in restic: every night rclone copies each one, encrypted with rclone crypt, to the target's bucket mirror. There, %s holds the bucket as of the last run and %s followed by a run's UTC time holds what that run replaced or deleted. The runbook of each app shows how to set up rclone for its bucket and list the runs.",
			strings.Join(buckets, ", "), markdown.Code("current"), markdown.Code("archive/"))
	}
}

// beforeUpgrade points at the upgrade runbook.
func (rb *runbooks) beforeUpgrade(m *markdown.Doc) {
	m.Heading(2, "4. Before an upgrade")
	m.Para("openDesk's upgrades change database schemas and run one-shot migrations; rolling one back means restoring. %s says, step by step, how to take a backup of every store right before the upgrade (the Jobs in %s), upgrade, and roll back from those backups if the upgrade fails.",
		markdown.Link("upgrade.md", "upgrade.md"), markdown.Code("../pre-upgrade/"))
}
