package generator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/odbackup/odbackup/generator/diagram"
	"github.com/odbackup/odbackup/schema"
)

// siteRunbook is runbooks/README.md: what must exist before any restore,
// the order of a site-wide restore, and how to find the backups.
func (rb *runbooks) siteRunbook(apps []*schema.SiteApp) []byte {
	m := &markdown{}
	m.heading(1, "Disaster recovery: %s", rb.pol.Site)
	m.para("%s", rb.siteLine())
	m.note(generatedNote)
	m.para("openDesk runs its apps (files, mail, calendar, chat, projects, wiki, identity) in one Kubernetes namespace. Each app keeps its data in stores: PostgreSQL or MariaDB databases, S3 buckets, volumes (PVCs), a few ConfigMaps. odbackup backs up each store the site's policy covers: databases and exports into restic repositories, buckets into encrypted mirrors, volumes as CSI snapshots. To restore, you run a generated Kubernetes Job per store, with the app stopped.")
	m.para("This folder holds the restore runbooks of %s: one page per app, and this page, which says what must exist before any restore, in which order the apps come back when more than one lost data, and how to find the backups. The restore Jobs the runbooks run are in %s; they are not in the kustomization, so nothing applies them by accident. Run the commands in a POSIX shell from the site's output folder (the one that holds %s), with %s pointed at the cluster.",
		code(rb.pol.Site), code("../restore/"), code("kustomization.yaml"), code("kubectl"))
	rb.prerequisites(m)
	rb.order(m, apps)
	rb.finding(m)
	rb.beforeUpgrade(m)
	return m.bytes()
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

func (rb *runbooks) prerequisites(m *markdown) {
	m.heading(2, "1. What must exist first")
	m.para("%s", rb.preflightItem())
	var env []string
	refs := map[string][]string{}
	addRefs := func(what string, refsOf ...schema.SecretKeyRef) {
		for _, r := range refsOf {
			key := code(r.Name) + " | " + code(r.Key)
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
		addRefs("restic password of target "+code(name), t.Restic.PasswordSecret)
		if c := t.Restic.S3Credentials; c != nil {
			addRefs("S3 credentials of target "+code(name), c.AccessKeyID, c.SecretAccessKey)
		}
		if c := t.Restic.RESTCredentials; c != nil {
			addRefs("REST server login of target "+code(name), c.Username, c.Password)
		}
	}
	for _, s := range rb.plan.Steps {
		if !s.Kind.Traits().BucketMirror {
			continue
		}
		hasMirror = true
		bm := s.Target.BucketMirror
		addRefs("bucket mirror credentials of target "+code(s.TargetName), bm.Credentials.AccessKeyID, bm.Credentials.SecretAccessKey)
		addRefs("rclone crypt password and salt of target "+code(s.TargetName), bm.Encryption.PasswordSecret, bm.Encryption.SaltSecret)
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
		rb.pol.Release, code(rb.pol.Namespace), code("MASTER_PASSWORD"))
	items := []string{deploy}
	if len(rows) > 0 {
		items = append(items, "odbackup's own Secrets, which the backup and restore Jobs read. openDesk does not create them; keep their values outside the cluster as well (a password manager or vault): without the restic password"+map[bool]string{true: " and the rclone crypt password and salt", false: ""}[hasMirror]+", nobody can read the backups.")
	}
	for _, name := range rb.targetsUsed() {
		t := rb.pol.Targets[name]
		items = append(items, fmt.Sprintf("The restic repository %s (target %s), reachable from the cluster. %s shows what it holds (see %s for the environment).",
			code(t.Restic.Repository), code(name), code("restic snapshots --host="+rb.pol.Site), link("Finding the backups", "#3-finding-the-backups")))
	}
	if rb.plan.UsesSnapshots() {
		items = append(items, fmt.Sprintf("For volumes: the cluster's CSI snapshot controller and the VolumeSnapshotClass %s (driver %s, file %s, applied with the kustomization): %s. A CSI snapshot lives on the same storage system as its volume. It protects against deleted or damaged data, not against losing that storage system: if the storage is lost, the snapshots are lost with it, and volumes without another copy (%s) can only be restored from a copy of the storage system itself.",
			code(rb.pol.Snapshot.ClassName), code(rb.pol.Snapshot.Driver), link(code("snapshotclass/"+rb.pol.Snapshot.ClassName+".yaml"), "../snapshotclass/"+rb.pol.Snapshot.ClassName+".yaml"),
			code("kubectl get volumesnapshotclass "+rb.pol.Snapshot.ClassName), rb.snapshotOnly()))
	}
	items = append(items, fmt.Sprintf("odbackup's manifests applied (%s from this folder): the backup CronJobs resume the backups once the restore is verified; each runbook suspends the CronJob of its app while it restores.", code("kubectl apply --kustomize=.")))
	m.numbered(items...)
	if len(rows) > 0 {
		m.para("odbackup's Secrets, all in namespace %s:", code(rb.pol.Namespace))
		m.table([]string{"Secret", "key", "holds"}, rows)
		m.code("sh", rb.kubectl("get secret "+strings.Join(names, " ")))
	}
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
			claims = append(claims, code(s.Store.Connection.Claim))
		}
	}
	if len(claims) == 0 {
		return "none at this site"
	}
	return strings.Join(claims, ", ")
}

// order is the disaster-recovery order: tiers, then the catalog's order.
func (rb *runbooks) order(m *markdown, apps []*schema.SiteApp) {
	m.heading(2, "2. Order of a site-wide restore")
	m.para("When more than one app lost data, restore them tier by tier: the data services the others run on, then identity (Nubus: the LDAP primary, Keycloak's databases, the provisioning queue), then the applications, which authenticate against Nubus and keep their data in the data services. Within a tier, follow the order below; apps of one tier may be restored in parallel by different people once the tier before is done.")
	order := diagram.New(diagram.Down)
	var tiers []string
	for _, a := range apps {
		if !slices.Contains(tiers, a.Tier) {
			tiers = append(tiers, a.Tier)
		}
	}
	for i, t := range tiers {
		order.AddGroup(mermaidID("tier_", t), fmt.Sprintf("%d. %s", i+1, tierTitle[t]), diagram.Right)
		prev := ""
		for _, a := range apps {
			if a.Tier != t {
				continue
			}
			id := mermaidID("app_", a.ID)
			order.AddNode(id, a.Name, mermaidID("tier_", t), "")
			if prev != "" {
				order.AddEdge(prev, id)
			}
			prev = id
		}
		if i > 0 {
			order.AddEdge(mermaidID("tier_", tiers[i-1]), mermaidID("tier_", t))
		}
	}
	m.diagram(order)
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
		rows = append(rows, []string{fmt.Sprint(i + 1), a.Name, tierTitle[a.Tier], what, link(a.ID+".md", a.ID+".md")})
	}
	m.table([]string{"#", "app", "tier", "restores", "runbook"}, rows)
	var stateless []string
	for _, a := range rb.site.Apps {
		if a.Deployed && len(a.Stores) == 0 {
			stateless = append(stateless, a.Name)
		}
	}
	if len(stateless) > 0 {
		m.para("Stateless at this site, nothing to restore: %s. They come back with openDesk's deployment.", strings.Join(stateless, ", "))
	}
	if mig := rb.site.App("migrations"); mig != nil && mig.Deployed {
		m.para("The ConfigMap %s (runbook %s) records which of openDesk's one-shot upgrade migrations have run. Restore it first, before any %s touches the site again.", code("migrations-status"), link("migrations.md", "migrations.md"), code("helmfile apply"))
	}
}

// finding says how to list what each store can be restored from.
func (rb *runbooks) finding(m *markdown) {
	m.heading(2, "3. Finding the backups")
	m.para("Each restore Job restores the backup you name as you apply it, the newest (latest) or another (step 2 of each runbook); applied as it is, it only lists them. To see what there is, use the commands below, or let a restore Job list it for you (%s, also in step 2 of each runbook), which needs nothing on your machine but kubectl.", code("ODBACKUP_SNAPSHOT=list"))
	m.para("A backup Job of several stores backs up every store it can, even when one fails: its last container, %s, then fails the Job, and its log names every store that failed with the container whose log says why. The stores it does not name were backed up by that run.",
		code(runResultContainer))
	if targets := rb.targetsUsed(); len(targets) > 0 {
		m.heading(3, "restic: databases, exports, ConfigMaps and Secrets")
		m.para("Every restic snapshot carries the site as its host (%s) and the tags %s, %s, %s and %s (the run of the backup Job that took it; plus %s, %s or %s where one store has several files). With restic 0.14 or newer on your machine, set up the repository's environment from its Secrets:",
			code(rb.pol.Site), code("odbackup"), code("app=…"), code("store=…"), code("run=…"), code("database=…"), code("keyspace=…"), code("export=…"))
		for _, name := range targets {
			t := rb.pol.Targets[name]
			m.para("Target %s:", code(name))
			m.code("sh", rb.resticExports(&t))
		}
		m.para("Then list a store's snapshots; the first column is the ID a restore Job takes:")
		var rows [][]string
		seen := map[string]bool{}
		for _, s := range rb.plan.Steps {
			if !s.UsesRestic() || seen[s.Store.ID] {
				continue
			}
			seen[s.Store.ID] = true
			rows = append(rows, []string{code(s.Store.ID), code(s.TargetName), code(storeSnapshotsCommand(s))})
		}
		m.table([]string{"store", "target", "command"}, rows)
	}
	if rb.plan.UsesSnapshots() {
		m.heading(3, "CSI VolumeSnapshots: volumes")
		m.para("odbackup names a volume's snapshots after its claim, a dash and the UTC time (%s), and labels them with the site, the app and the store; the annotation %s holds the full store id. All of the site's snapshots:", code("YYYYMMDD-HHMMSS"), code(annotStoreID))
		m.code("sh", rb.kubectl(fmt.Sprintf("get volumesnapshot --selector=%s=%s --sort-by=.metadata.creationTimestamp", labelSite, rb.pol.Site)))
		var rows [][]string
		for _, s := range rb.plan.Steps {
			if s.Kind.Traits().VolumeSnapshots {
				rows = append(rows, []string{code(s.Store.ID), code(s.Store.Connection.Claim), code(rb.kubectl("get volumesnapshot --selector=" + snapshotSelector(s) + " --sort-by=.metadata.creationTimestamp"))})
			}
		}
		m.table([]string{"store", "claim", "its snapshots"}, rows)
	}
	var buckets []string
	for _, s := range rb.plan.Steps {
		if s.Kind.Traits().BucketMirror {
			buckets = append(buckets, code(s.Store.Connection.Bucket))
		}
	}
	if len(buckets) > 0 {
		m.heading(3, "Bucket mirrors: S3 buckets")
		m.para("Buckets (%s) are not in restic: every night rclone copies each one, encrypted with rclone crypt, to the target's bucket mirror. There, %s holds the bucket as of the last run and %s followed by a run's UTC time holds what that run replaced or deleted. The runbook of each app shows how to set up rclone for its bucket and list the runs.",
			strings.Join(buckets, ", "), code("current"), code("archive/"))
	}
}

// beforeUpgrade points at the upgrade runbook.
func (rb *runbooks) beforeUpgrade(m *markdown) {
	m.heading(2, "4. Before an upgrade")
	m.para("openDesk's upgrades change database schemas and run one-shot migrations; rolling one back means restoring. %s says, step by step, how to take a backup of every store right before the upgrade (the Jobs in %s), upgrade, and roll back from those backups if the upgrade fails.",
		link("upgrade.md", "upgrade.md"), code("../pre-upgrade/"))
}
