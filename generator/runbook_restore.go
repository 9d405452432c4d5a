package generator

import (
	"fmt"
	"path"
	"strings"

	"github.com/odbackup/odbackup/schema"
)

// restoreTarget names what a restore Job restores: a noun, the object's
// name and, for the heading, what kind of thing it is.
func restoreTarget(r *RestoreJob) (noun, name, kind string) {
	st := r.Step
	c := st.Store.Connection
	switch st.Method {
	case MethodPgDump:
		return "database", c.Database, "PostgreSQL"
	case MethodMariaDBDump:
		if strings.HasSuffix(c.Database, "*") {
			return "databases", c.Database, "MariaDB"
		}
		return "database", c.Database, "MariaDB"
	case MethodBucketMirror:
		return "bucket", c.Bucket, "S3"
	case MethodCSISnapshot:
		return "volume", c.Claim, "PVC"
	case MethodCassandraSnapshot:
		return "keyspace", c.Keyspace, "Cassandra"
	case MethodRedisRDB:
		return "Redis data on", c.Claim, "dump.rdb"
	case MethodObjectExport:
		if st.Store.Kind == "secret" {
			return "Secret", c.Name, "Kubernetes object"
		}
		return "ConfigMap", c.Name, "Kubernetes object"
	case MethodExecExport:
		return "export", st.Store.Export.Filename, "only if the volume is lost"
	}
	return "store", st.Store.ID, string(st.Method)
}

// restoreTitlePlain names what a restore Job restores, without Markdown:
// "database nextcloud".
func restoreTitlePlain(r *RestoreJob) string {
	noun, name, _ := restoreTarget(r)
	return noun + " " + name
}

// restoreTitle is a restore section's heading: "Database `nextcloud`
// (PostgreSQL)".
func restoreTitle(r *RestoreJob) string {
	noun, name, kind := restoreTarget(r)
	return strings.ToUpper(noun[:1]) + noun[1:] + " " + code(name) + " (" + kind + ")"
}

// restoreSection is one store's restore: what the Job does and why, what
// to do before it, the commands, and what to do after it.
func (rb *runbooks) restoreSection(m *markdown, app *schema.SiteApp, number string, r *RestoreJob) {
	st := r.Step
	m.heading(3, "%s %s", number, restoreTitle(r))
	m.para("Store %s: %s. Restore Job: %s.", code(st.Store.ID), st.Store.Content, link(code(r.Path), "../"+r.Path))
	if st.Store.Restore.PrimaryOnly && st.Method != MethodExecExport {
		m.para("This is a volume of the primary (leader) server, and only the primary is restored: its secondaries, if any run, copy the data from it again.")
	}
	restoreMethods[st.Method].section(rb, m, app, r)
}

func (rb *runbooks) postgresSection(m *markdown, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	m.para("What the Job does: it streams the dump %s of the chosen restic snapshot into %s, which connects to %s as %s (the app's own user, password from Secret %s) and, in one transaction, drops every object the dump contains and creates it again from the dump, owned by %s. If anything fails, the transaction rolls back and the database is as it was.",
		code(c.Database+".pgdump"), code("pg_restore --clean --if-exists --no-owner --single-transaction"),
		code(fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)), code(c.User), code(c.PasswordSecret.Name), code(c.User))
	m.para("Why this way: the database keeps its owner, encoding and collation, and the app's user needs no more rights than it has every day. Objects the dump does not contain stay, though: tables a newer version of the app added after the backup, for example.")
	rb.applyCommands(m, r)
	m.para("Recreate the database first, and then run the Job, when the database is gone, damaged beyond repair, or when you are rolling back an upgrade (the upgrade may have added tables that the old version trips over). This needs a PostgreSQL superuser: on openDesk's bundled server that is %s with the password the helmfile's %s holds; on a server of your own, the DBA's account. Start %s in a throw-away Pod:",
		code("postgres"), code("secrets.postgresql.postgresUser"), code("psql"))
	image := PostgresImage(rb.pol)
	m.code("sh", rb.throwAwayPod("odbackup-psql", image, nil, true,
		"psql", fmt.Sprintf("--host=%s", c.Host), fmt.Sprintf("--port=%d", c.Port), "--username=postgres", "--dbname=postgres"))
	create := fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgIdent(c.Database), pgIdent(c.User))
	if o := st.Store.Restore.DatabaseOptions; o != "" {
		create += " " + o
	}
	m.para("and at its prompt (%s ends connections that are still open; the app is stopped, so none should be):", code("WITH (FORCE)"))
	m.code("sql", fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\n%s;", pgIdent(c.Database), create))
	if o := st.Store.Restore.DatabaseOptions; o != "" {
		m.para("The options %s are how openDesk creates this database; %s needs them.", code(o), st.Store.App)
	}
}

// pgIdent quotes a PostgreSQL identifier when it needs quotes.
func pgIdent(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" && (s[0] < '0' || s[0] > '9') {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func (rb *runbooks) mariadbSection(m *markdown, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	which := "the database " + code(c.Database)
	if strings.HasSuffix(c.Database, "*") {
		which = "every database matching " + code(c.Database) + " (each was backed up as a snapshot of its own, tagged " + code("database=…") + ")"
	}
	m.para("What the Job does: for %s it streams the dump (one file per database, named after it, with %s) of the chosen restic snapshot into the %s client, connected to %s as %s (password from Secret %s). The dumps were taken with %s: each one creates its database if it is missing, and drops and creates again every table it holds.",
		which, code(".sql"), code("mariadb"), code(fmt.Sprintf("%s:%d", c.Host, c.Port)), code(c.User), code(c.PasswordSecret.Name), code("mariadb-dump --databases"))
	if strings.HasSuffix(c.Database, "*") {
		m.para("With %s, the Job restores the newest snapshot of every database the store has backed up, and its log lists them with their times: a database that was removed since (and whose snapshots are still kept) comes back too. To restore the databases of one night, give their snapshot IDs, separated by spaces.", code("latest"))
	}
	m.para("Why this way: a logical dump restores into any MariaDB of a compatible version, and tables come back whole. Tables that exist only in the live database stay; a restore that stopped half-way has restored some tables and not others, so run it again to the end.")
	rb.applyCommands(m, r)
	m.para("To get exactly the backup's state (for example when rolling back an upgrade), drop the database first, as %s, in a throw-away %s; at its prompt run %s (one statement per database), then the Job:",
		code(c.User), code("mariadb"), code("DROP DATABASE"))
	m.code("sh", rb.throwAwayPod("odbackup-mariadb", rb.pol.Images.MariaDB, envNamed(mariadbEnv(c), "MYSQL_PWD"), true,
		"mariadb", "--host="+c.Host, fmt.Sprintf("--port=%d", c.Port), "--user="+c.User))
}

func (rb *runbooks) bucketSection(m *markdown, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	mirror := st.Target.BucketMirror
	env := bucketMirrorEnv(rb.pol, st)
	remote := ""
	for _, e := range env {
		if e.Name == "RCLONE_CONFIG_CRYPT_REMOTE" {
			remote = e.Value
		}
	}
	m.para("What the Job does: every night the backup copied the bucket, encrypted with rclone crypt, to %s on %s: the folder %s holds the bucket as of the last run, and %s followed by a run's UTC time holds the objects that run replaced or deleted (kept for %d days). The Job decrypts %s and syncs it into the bucket %s at %s with %s: objects created since the backup are deleted, changed and deleted ones come back. Given a time as %s, it then copies back, newest first, what every later run replaced or deleted, so each object that existed then is as it was at that time; objects created after that time stay.",
		code(remote), code(mirror.Endpoint), code("current"), code("archive/"), st.Kept.ArchiveDays, code("current"), code(c.Bucket), code(rb.pol.Services.S3.Endpoint), code("rclone sync"), code(snapshotPlaceholder))
	m.para("Why this way: the copy is a plain bucket, encrypted before it left the cluster, so restoring it needs nothing but rclone, the mirror's credentials and the crypt password and salt (Secret %s).", code(mirror.Encryption.PasswordSecret.Name))
	rb.applyCommands(m, r)
	m.para("Single objects: to look into the mirror or take one object back without the Job, set up rclone on your machine with the Job's settings (rclone wants the crypt passwords obscured):")
	m.code("sh", rb.exports(env, "ODBACKUP_CRYPT_PASSWORD", "ODBACKUP_CRYPT_SALT", "ODBACKUP_BUCKET")+
		fmt.Sprintf("export RCLONE_CONFIG_CRYPT_PASSWORD=\"$(%s | rclone obscure -)\"\n", rb.secretCommand(mirror.Encryption.PasswordSecret))+
		fmt.Sprintf("export RCLONE_CONFIG_CRYPT_PASSWORD2=\"$(%s | rclone obscure -)\"\n", rb.secretCommand(mirror.Encryption.SaltSecret))+
		"rclone lsf --dirs-only crypt:archive")
	m.para("The last command lists the runs that replaced or deleted something. %s lists what one run replaced or deleted, and %s copies all of it back into the bucket; add %s with one of the listed paths to copy only that object.",
		code("rclone ls crypt:archive/"+snapshotPlaceholder), code("rclone copy crypt:archive/"+snapshotPlaceholder+" source:"+c.Bucket), code("--include"))
}

func (rb *runbooks) claimSection(m *markdown, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	old := c.Claim + "-old-volume.txt"
	workload := "the workload that mounts it"
	if r.Stopped != nil {
		workload = code(workloadRef(*r.Stopped))
	}
	m.para("What the Job does: it checks that %s has 0 replicas and no pods, picks the VolumeSnapshot (with %s: the newest one labelled %s that is ready to use), checks that it belongs to this store, and prints the live claim's storage class, access modes and size. Then it deletes the claim %s and creates it again, with the same name, class, access modes, size, labels and annotations, from the snapshot (%s). The new volume is filled from the snapshot when the workload starts and mounts it.",
		workload, code("latest"), code(snapshotSelector(st)), code(c.Claim), code("spec.dataSource"))
	m.para("Why this way: a volume cannot be rolled back in place, and the workload finds its data under the claim's name; a claim made from a snapshot is how Kubernetes restores one. The snapshots are VolumeSnapshots of class %s, made by odbackup's CronJob, which keeps the newest %d. They live on the same storage system as the volume: if that system is lost, so are they.",
		code(rb.pol.Snapshot.ClassName), rb.pol.Snapshot.Keep)
	m.para("Before you run the Job, keep the current volume: deleting the claim deletes its volume when the volume's reclaim policy is %s, the usual default. Some storage systems also need the source volume for a snapshot to be usable. With the policy set to %s, the old volume stays until you delete it (this needs rights on PersistentVolumes, which are cluster-wide):", code("Delete"), code("Retain"))
	m.code("sh", rb.kubectl(fmt.Sprintf("get pvc %s --output=jsonpath='{.spec.volumeName}' | tee %s", c.Claim, old))+"\n"+
		fmt.Sprintf(`kubectl patch pv "$(cat %s)" --patch='{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'`, old))
	rb.applyCommands(m, r)
	m.para("Once the app runs on the restored volume and you have verified it, delete the old one: %s.", code(fmt.Sprintf(`kubectl delete pv "$(cat %s)"`, old)))
}

func (rb *runbooks) cassandraSection(m *markdown, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	staging := path.Join(path.Dir(strings.TrimRight(c.DataDir, "/")), "odbackup-restore-"+c.Keyspace)
	m.para("What the Job does: it streams %s of the chosen restic snapshot (the SSTables and %s of every table of keyspace %s, as %s took them) into pod %s (container %s), unpacks it in %s, on the same volume as the data, and loads each table with %s. Cassandra checks the SSTables as it imports them.",
		code(c.Keyspace+".tar"), code("schema.cql"), code(c.Keyspace), code("nodetool snapshot"), code(c.Pod), code(c.Container), code(staging), code("nodetool import"))
	m.para("Why this way: importing SSTables needs no downtime of Cassandra and keeps the rows' write times. That is also why the tables must be emptied first: Cassandra keeps, for every row, the newest write, so rows written or deleted after the backup would win over the restored ones. Truncate every table of the keyspace before the Job (as %s, password from Secret %s):", code(c.User), code(c.PasswordSecret.Name))
	inner := fmt.Sprintf(`read -r password || true
cql() { cqlsh --username=%[1]s --password="$password" --execute="$1" %[2]s %[3]d; }
tables=$(cql "SELECT table_name FROM system_schema.tables WHERE keyspace_name = '%[4]s'" | awk 'f && NF == 1 { print $1 } $1 ~ /^-+$/ { f = 1 }')
for table in $tables; do
  echo "TRUNCATE %[4]s.$table"
  cql "TRUNCATE %[4]s.$table"
done`, shq(c.User), c.Host, c.Port, c.Keyspace)
	m.code("sh", fmt.Sprintf("%s |\n  %s", rb.secretCommand(*c.PasswordSecret),
		rb.kubectl(fmt.Sprintf("exec --stdin %s --container=%s -- sh -c %s", c.Pod, c.Container, shq(inner)))))
	m.para("If the keyspace or its tables are gone altogether, let openDesk's deployment create them again (it sets up Dovecot's keyspaces) before the Job: %s needs the tables to exist.", code("nodetool import"))
	rb.applyCommands(m, r)
}

func (rb *runbooks) redisSection(m *markdown, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	w := *r.Stopped
	file := "redis-replicas.txt"
	m.para("This Redis is shared: restoring it replaces the data of every app that uses %s (sessions, caches and locks of all of them), and every user is logged out. Restore it only when that is what you want.", code(fmt.Sprintf("%s:%d", c.Host, c.Port)))
	m.para("What the Job does: it checks that %s has 0 replicas and no pods, mounts the server's volume %s, writes the %s of the chosen restic snapshot there both as %s and as the base of a new append-only file (%s; Redis 7 with %s on loads only that), and moves what was there to %s and %s.",
		code(workloadRef(w)), code(c.Claim), code("dump.rdb"), code("dump.rdb"), code("appendonlydir/"), code("appendonly"), code("dump.rdb.before-restore-YYYYMMDDTHHMMSSZ"), code("appendonlydir.before-restore-YYYYMMDDTHHMMSSZ"))
	m.para("Why this way: Redis reads its files only when it starts, so they are replaced while it is stopped. Stop it, recording its replicas:")
	ws := []schema.Workload{w}
	m.code("sh", rb.recordCommand(ws, file)+"\n"+rb.stopCommands(ws))
	rb.applyCommands(m, r)
	m.para("Start Redis again:")
	m.code("sh", rb.startCommands(ws, file))
}

func (rb *runbooks) objectSection(m *markdown, _ *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	c := st.Store.Connection
	m.para("What the Job does: it streams %s of the chosen restic snapshot (the object as %s printed it) into %s, after removing what the API server assigns (uid, resourceVersion, creation time) and the namespace: %s replaces the live object as a whole, or %s makes it again if it is gone. Keys added since the backup are gone afterwards; that is the point.",
		code(st.Store.Kind+"-"+c.Name+".yaml"), code("kubectl get -o yaml"), code("kubectl"), code("replace"), code("create"))
	m.para("Why this way: the object goes back exactly as it was, labels and annotations included, and never touches a disk on the way.")
	if st.Store.ID == "migrations/configmap/migrations-status" {
		m.para("%s records which of openDesk's one-shot migrations have run and the release last migrated to. Restore it before any %s: with a wrong state, the next upgrade runs migrations again or skips them.", code(c.Name), code("helmfile apply"))
	}
	rb.applyCommands(m, r)
}

func (rb *runbooks) exportSection(m *markdown, app *schema.SiteApp, r *RestoreJob) {
	st := r.Step
	e := st.Store.Export
	file := path.Join(exportRestoreDir(st), e.Filename)
	m.para("Skip this step when the volume restores above worked. Use it when the VolumeSnapshots of %s are lost with the storage they lived on: every night the backup also exported the data with %s in pod %s and stored the export in restic, off the cluster.",
		code(st.Store.Connection.Claim), code(e.Command), code(e.Pod))
	m.para("What the Job does: it streams %s of the chosen restic snapshot into pod %s (container %s) as %s, on the store's volume, and counts what it copied. It does not load it: that needs the server stopped, which the steps below do by hand.",
		code(e.Filename), code(e.Pod), code(e.Container), code(file))
	if e.Slapd == nil {
		m.para("The pod must run for the Job to reach it. Load the file with the tool that reads %s exports, then restart the pod.", code(e.Command))
		rb.applyCommands(m, r)
		return
	}
	s := e.Slapd
	primary := ""
	if r2 := findClaimRestore(rb.restores, st.Store.ID); r2 != nil && r2.Stopped != nil {
		primary = workloadRef(*r2.Stopped)
	}
	if primary != "" {
		m.para("The pod must run, on its new, empty volume. Start only it (it loads openDesk's initial directory, because %s holds no database yet):", code(s.Directory))
		m.code("sh", rb.kubectl(fmt.Sprintf("scale %s --replicas=1", primary))+"\n"+rb.kubectl("rollout status --timeout=15m "+primary))
	}
	rb.applyCommands(m, r)
	dir := path.Dir(file)
	loadDir := path.Join(dir, path.Base(s.Directory))
	inner := fmt.Sprintf(`set -e
rm -rf %[1]s
mkdir %[1]s
sed -e 's#%[2]s"#%[1]s"#' -e 's#%[2]s$#%[1]s#' %[3]s >%[4]s
base=$(sed -n 's/^dn: //p' %[5]s | head -n 1)
slapadd -f %[4]s -b "$base" -q -l %[5]s
echo "loaded $(slapcat -f %[4]s -b "$base" | grep -c '^dn: ') entries"
mv %[2]s %[2]s.before-restore
mv %[1]s %[2]s`, shq(loadDir), s.Directory, shq(s.Config), shq(path.Join(dir, "slapd.conf")), shq(file))
	m.para("Then load it. %s writes database files directly and must not write to the files %s serves; so the commands below build a new database from the export next to the live one (with a copy of %s that points to the new directory), move it into place, and restart the pod, whose %s then serves it. The directory %s keeps the fresh one.",
		code("slapadd"), code("slapd"), code(s.Config), code("slapd"), code(s.Directory+".before-restore"))
	m.code("sh", rb.kubectl(fmt.Sprintf("exec %s --container=%s -- sh -c %s", e.Pod, e.Container, shq(inner)))+"\n"+
		rb.kubectl("delete pod "+e.Pod))
	m.para("The export holds the directory, not the transaction log that the UDM listener of %s follows; restore the listener's volume and the provisioning queue from snapshots of the same night where they still exist.", app.Name)
}

// findClaimRestore is the volume restore of a store, if it has one.
func findClaimRestore(restores []*RestoreJob, storeID string) *RestoreJob {
	for _, r := range restores {
		if r.Step.Store.ID == storeID && r.Step.Method == MethodCSISnapshot {
			return r
		}
	}
	return nil
}
