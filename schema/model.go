package schema

import (
	"fmt"
	"strings"
)

// Catalog is one distribution's applications and data stores, decoded from
// the embedded CUE catalog.
type Catalog struct {
	Distribution string   `json:"distribution"`
	Title        string   `json:"title"`
	Source       string   `json:"source"`
	Releases     []string `json:"releases"`
	// Editions are the openDesk editions a site of the distribution may run.
	Editions []string `json:"editions"`
	// BuiltOn says what a derived distribution is built on ("openDesk Edu
	// is built on openDesk CE v1.17"); empty for upstream openDesk.
	BuiltOn  string                 `json:"builtOn,omitempty"`
	Apps     map[string]*App        `json:"apps"`
	Replaced map[string]Replacement `json:"replaced,omitempty"`
}

// Replacement says which app of the base distribution a distribution swaps
// out, and for what.
type Replacement struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// App is an application or bundled service and its data stores.
type App struct {
	// ID is the app's key; it is filled in after decoding.
	ID               string            `json:"-"`
	Name             string            `json:"name"`
	Description      string            `json:"description"`
	Editions         []string          `json:"editions"`
	Releases         []string          `json:"releases"`
	EnabledByDefault bool              `json:"enabledByDefault"`
	Bundled          bool              `json:"bundled"`
	HelmReleases     []string          `json:"helmReleases"`
	DefaultRelease   string            `json:"defaultRelease"`
	Tier             string            `json:"tier"`
	Order            int               `json:"order"`
	Workloads        []Workload        `json:"workloads"`
	Verify           []Check           `json:"verify"`
	Notes            []string          `json:"notes"`
	Sources          []Source          `json:"sources"`
	Stores           map[string]*Store `json:"stores"`
}

// Source is where a catalog fact was read: one file of a public repository
// at one commit.
type Source struct {
	Repo   string `json:"repo"`
	Path   string `json:"path"`
	Commit string `json:"commit"`
	Shows  string `json:"shows,omitempty"`
}

// Workload is a Deployment, StatefulSet or CronJob a restore stops.
type Workload struct {
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Replicas   int      `json:"replicas"`
	Editions   []string `json:"editions"`
	Releases   []string `json:"releases"`
	Confidence string   `json:"confidence"`
	Source     string   `json:"source"`
	Sources    []Source `json:"sources"`
}

// Check is one verification step of a runbook.
type Check struct {
	Description string     `json:"description"`
	Exec        *ExecCheck `json:"exec,omitempty"`
	HTTPGet     string     `json:"httpGet,omitempty"`
	Expect      string     `json:"expect"`
}

// ExecCheck runs a command in a pod of one of the app's workloads.
type ExecCheck struct {
	Workload  string `json:"workload"`
	Container string `json:"container"`
	Command   string `json:"command"`
}

// Store is one data store of an app: a row of the storage table.
type Store struct {
	// ID ("<app>/<kind>/<name>") and App are filled in after decoding.
	ID         string   `json:"-"`
	App        string   `json:"-"`
	Kind       string   `json:"kind"`
	Backup     string   `json:"backup"`
	Editions   []string `json:"editions"`
	Releases   []string `json:"releases"`
	Identifier string   `json:"identifier"`
	Paths      []string `json:"paths"`
	Content    string   `json:"content"`
	Reason     string   `json:"reason"`
	Note       string   `json:"note"`
	// MayMatchNothing says why a wildcard identifier may match no
	// database at run time; empty: matching nothing is a failure.
	MayMatchNothing string `json:"mayMatchNothing,omitempty"`
	Confidence      string `json:"confidence"`
	// InlineCredentials says why and where a chart keeps the database
	// password inline (no Secret); the site then names a Secret it creates.
	InlineCredentials string       `json:"inlineCredentials,omitempty"`
	Sources           []Source     `json:"sources"`
	Restore           StoreRestore `json:"restore"`
	Connection        Connection   `json:"connection"`
	Export            *Export      `json:"export,omitempty"`
	// Drill is the store's sanity check in a restore drill, if it has one.
	Drill *StoreDrill `json:"drill,omitempty"`
}

// StoreDrill is SQL a restored database must answer with a row whose
// first column is not false, and where its names come from.
type StoreDrill struct {
	Check string `json:"check"`
	Shows string `json:"shows"`
}

// Export is a logical export taken by a command in a running pod.
type Export struct {
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Command   string `json:"command"`
	Filename  string `json:"filename"`
	// Slapd is set for an openLDAP export the runbook loads with slapadd.
	Slapd *Slapd `json:"slapd,omitempty"`
}

// Slapd is where an openLDAP server keeps its configuration and the
// database an export holds.
type Slapd struct {
	Config    string `json:"config"`
	Directory string `json:"directory"`
}

// StoreRestore is what a runbook must say about a store beyond its method.
type StoreRestore struct {
	Notes       []string `json:"notes"`
	PrimaryOnly bool     `json:"primaryOnly"`
	// DatabaseOptions are openDesk's CREATE DATABASE options beyond the
	// owner, e.g. "ENCODING 'UTF8' LC_COLLATE 'C' ...".
	DatabaseOptions string `json:"databaseOptions,omitempty"`
}

// Connection is the union of every kind's connection fields; the CUE schema
// makes sure a store only has the fields of its kind.
type Connection struct {
	Host            string        `json:"host,omitempty"`
	Port            int           `json:"port,omitempty"`
	Database        string        `json:"database,omitempty"`
	User            string        `json:"user,omitempty"`
	PasswordSecret  *SecretKeyRef `json:"passwordSecret,omitempty"`
	Bucket          string        `json:"bucket,omitempty"`
	AccessKeyID     string        `json:"accessKeyID,omitempty"`
	SecretKeySecret *SecretKeyRef `json:"secretKeySecret,omitempty"`
	Claim           string        `json:"claim,omitempty"`
	Workload        string        `json:"workload,omitempty"`
	Keyspace        string        `json:"keyspace,omitempty"`
	Pod             string        `json:"pod,omitempty"`
	Container       string        `json:"container,omitempty"`
	DataDir         string        `json:"dataDir,omitempty"`
	Name            string        `json:"name,omitempty"`
	// FSGroup owns a Redis server's files, or is the fsGroup of the pod
	// that mounts a volume; a restore writes as a member.
	FSGroup int `json:"fsGroup,omitempty"`
	// RunAsUser and RunAsGroup are the user and group a volume's app runs
	// as where the chart sets them; 0 when neither catalog nor policy
	// knows (or the app runs as root).
	RunAsUser  int `json:"runAsUser,omitempty"`
	RunAsGroup int `json:"runAsGroup,omitempty"`
	// RunAsRoot: the volume's app runs as uid 0, which a restricted
	// restore pod cannot.
	RunAsRoot bool `json:"runAsRoot,omitempty"`
	// Owner says where a volume's RunAsUser, RunAsGroup and FSGroup come
	// from, or why there are none.
	Owner string `json:"owner,omitempty"`
}

// SecretKeyRef names one key of one Secret in the site's namespace.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

func (r SecretKeyRef) String() string { return fmt.Sprintf("%s/%s", r.Name, r.Key) }

// Policy is a site policy after validation, with every default filled in.
type Policy struct {
	Site          string                 `json:"site"`
	Distribution  string                 `json:"distribution"`
	Edition       string                 `json:"edition"`
	Release       string                 `json:"release"`
	Namespace     string                 `json:"namespace"`
	Domain        string                 `json:"domain"`
	Apps          map[string]AppPolicy   `json:"apps"`
	Stores        map[string]StorePolicy `json:"stores"`
	ExtraApps     map[string]*App        `json:"extraApps"`
	Targets       map[string]Target      `json:"targets"`
	DefaultTarget string                 `json:"defaultTarget,omitempty"`
	Schedule      Schedule               `json:"schedule"`
	Retention     Retention              `json:"retention"`
	Snapshot      Snapshot               `json:"snapshot"`
	Maintenance   Maintenance            `json:"maintenance"`
	Services      Services               `json:"services"`
	Images        Images                 `json:"images"`
	Resources     Resources              `json:"resources"`
	Alerts        Alerts                 `json:"alerts"`
}

// Alerts configures the alert rules of the site's alerts/ folder.
type Alerts struct {
	// RunbookBaseURL is where `odbackup docs` output is published; empty
	// when the site has not said.
	RunbookBaseURL  string `json:"runbookBaseURL,omitempty"`
	InKustomization bool   `json:"inKustomization"`
}

// AppPolicy is the site's setting for one app.
type AppPolicy struct {
	Deployed    *bool              `json:"deployed,omitempty"`
	Schedule    string             `json:"schedule,omitempty"`
	Target      string             `json:"target,omitempty"`
	Retention   *RetentionOverride `json:"retention,omitempty"`
	Resources   *Resources         `json:"resources,omitempty"`
	SplitStores bool               `json:"splitStores"`
	ReleaseName string             `json:"releaseName,omitempty"`
	Offsite     *bool              `json:"offsite,omitempty"`
	Drill       *DrillPolicy       `json:"drill,omitempty"`
}

// DrillPolicy is an app's restore drill: its schedule, or that it is off
// and why.
type DrillPolicy struct {
	Schedule string         `json:"schedule,omitempty"`
	Disabled *DrillDisabled `json:"disabled,omitempty"`
}

// DrillDisabled turns an app's drill off, with the reason.
type DrillDisabled struct {
	Reason string `json:"reason"`
}

// StorePolicy is the site's decision on one store.
type StorePolicy struct {
	Backup     *bool              `json:"backup,omitempty"`
	Waiver     *Waiver            `json:"waiver,omitempty"`
	Schedule   string             `json:"schedule,omitempty"`
	Target     string             `json:"target,omitempty"`
	Retention  *RetentionOverride `json:"retention,omitempty"`
	Offsite    *bool              `json:"offsite,omitempty"`
	Connection *Connection        `json:"connection,omitempty"`
	// RestoreScratch, on a PostgreSQL store, makes its restore stage the
	// dump on a volume of its own and restore it in parallel.
	RestoreScratch *RestoreScratch `json:"restoreScratch,omitempty"`
}

// RestoreScratch is the scratch volume of a PostgreSQL store's restore Job
// and pg_restore's number of parallel jobs.
type RestoreScratch struct {
	Size         string `json:"size"`
	StorageClass string `json:"storageClass,omitempty"`
	Jobs         int    `json:"jobs"`
}

// Waiver leaves a required store without backup until Expires.
type Waiver struct {
	Reason     string `json:"reason"`
	Expires    string `json:"expires"`
	ApprovedBy string `json:"approvedBy,omitempty"`
	Ticket     string `json:"ticket,omitempty"`
}

// Target is a restic repository and, optionally, an encrypted bucket mirror.
type Target struct {
	Restic       ResticTarget  `json:"restic"`
	BucketMirror *BucketMirror `json:"bucketMirror,omitempty"`
}

// ResticTarget is a restic repository and the Secrets that open it.
type ResticTarget struct {
	Repository      string           `json:"repository"`
	PasswordSecret  SecretKeyRef     `json:"passwordSecret"`
	S3Credentials   *S3Credentials   `json:"s3Credentials,omitempty"`
	RESTCredentials *RESTCredentials `json:"restCredentials,omitempty"`
	// Maintenance, when set, is how the maintenance and the repository's
	// init Job reach the repository; the backups, restores and drills
	// keep the credentials above.
	Maintenance *ResticMaintenance `json:"maintenance,omitempty"`
}

// ResticMaintenance gives a target's maintenance credentials (and a URL) of
// its own.
type ResticMaintenance struct {
	// CredentialsSecret holds the maintenance's credentials under the keys
	// S3Credentials or RESTCredentials name.
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
	// Repository is the same repository by another URL.
	Repository string `json:"repository,omitempty"`
}

// ForMaintenance is the target as its maintenance and its repository's
// init Job open it: with the maintenance's URL and its Secret in place of
// the Secrets of s3Credentials and restCredentials (same keys). Without
// Maintenance it is the target itself.
func (t Target) ForMaintenance() Target {
	m := t.Restic.Maintenance
	if m == nil {
		return t
	}
	out := t
	if m.Repository != "" {
		out.Restic.Repository = m.Repository
	}
	if s := m.CredentialsSecret; s != "" {
		if c := t.Restic.S3Credentials; c != nil {
			out.Restic.S3Credentials = &S3Credentials{
				AccessKeyID:     SecretKeyRef{Name: s, Key: c.AccessKeyID.Key},
				SecretAccessKey: SecretKeyRef{Name: s, Key: c.SecretAccessKey.Key},
			}
		}
		if c := t.Restic.RESTCredentials; c != nil {
			out.Restic.RESTCredentials = &RESTCredentials{
				Username: SecretKeyRef{Name: s, Key: c.Username.Key},
				Password: SecretKeyRef{Name: s, Key: c.Password.Key},
			}
		}
	}
	out.Restic.Maintenance = nil
	return out
}

// S3Credentials are an S3 access key pair, by Secret reference.
type S3Credentials struct {
	AccessKeyID     SecretKeyRef `json:"accessKeyID"`
	SecretAccessKey SecretKeyRef `json:"secretAccessKey"`
}

// RESTCredentials are a restic REST server's basic-auth credentials.
type RESTCredentials struct {
	Username SecretKeyRef `json:"username"`
	Password SecretKeyRef `json:"password"`
}

// BucketMirror is an S3 location that receives rclone-crypt copies of buckets.
type BucketMirror struct {
	Endpoint    string        `json:"endpoint"`
	Region      string        `json:"region"`
	Bucket      string        `json:"bucket"`
	Prefix      string        `json:"prefix"`
	Credentials S3Credentials `json:"credentials"`
	Encryption  struct {
		PasswordSecret SecretKeyRef `json:"passwordSecret"`
		SaltSecret     SecretKeyRef `json:"saltSecret"`
	} `json:"encryption"`
}

// Schedule is the site's backup window and time zone.
type Schedule struct {
	Window struct {
		Start string `json:"start"`
		Hours int    `json:"hours"`
	} `json:"window"`
	TimeZone string `json:"timeZone"`
}

// Retention is restic's GFS retention.
type Retention struct {
	Daily   int `json:"daily"`
	Weekly  int `json:"weekly"`
	Monthly int `json:"monthly"`
}

// RetentionOverride changes some fields of the site's retention.
type RetentionOverride struct {
	Daily   *int `json:"daily,omitempty"`
	Weekly  *int `json:"weekly,omitempty"`
	Monthly *int `json:"monthly,omitempty"`
}

// Apply returns r with the override's fields set.
func (o *RetentionOverride) Apply(r Retention) Retention {
	if o == nil {
		return r
	}
	if o.Daily != nil {
		r.Daily = *o.Daily
	}
	if o.Weekly != nil {
		r.Weekly = *o.Weekly
	}
	if o.Monthly != nil {
		r.Monthly = *o.Monthly
	}
	return r
}

// Snapshot configures CSI snapshots and the generated VolumeSnapshotClass.
type Snapshot struct {
	Driver              string            `json:"driver,omitempty"`
	ClassName           string            `json:"className"`
	DeletionPolicy      string            `json:"deletionPolicy"`
	Parameters          map[string]string `json:"parameters"`
	Keep                int               `json:"keep"`
	ReadyTimeoutSeconds int               `json:"readyTimeoutSeconds"`
	CloneStorageClass   string            `json:"cloneStorageClass,omitempty"`
	CopyTimeoutSeconds  int               `json:"copyTimeoutSeconds"`
}

// Maintenance is the schedule of the restic maintenance jobs.
type Maintenance struct {
	Schedule       string `json:"schedule"`
	ReadDataSubset string `json:"readDataSubset"`
}

// Services overrides where openDesk's shared services run.
type Services struct {
	PostgreSQL struct {
		HostPort
		Version int `json:"version"`
	} `json:"postgresql"`
	MariaDB HostPort `json:"mariadb"`
	S3      struct {
		Endpoint  string `json:"endpoint"`
		Region    string `json:"region"`
		PathStyle bool   `json:"pathStyle"`
	} `json:"s3"`
	Redis     HostPort `json:"redis"`
	Cassandra HostPort `json:"cassandra"`
}

// HostPort overrides a service's host and port; empty means the default.
type HostPort struct {
	Host string `json:"host,omitempty"`
	Port int    `json:"port,omitempty"`
}

// Images pins every image a generated Pod runs.
type Images struct {
	Restic     string `json:"restic"`
	PostgreSQL string `json:"postgresql,omitempty"`
	MariaDB    string `json:"mariadb"`
	Rclone     string `json:"rclone"`
	Kubectl    string `json:"kubectl"`
	Busybox    string `json:"busybox"`
	Redis      string `json:"redis"`
	Cassandra  string `json:"cassandra"`
	OpenLDAP   string `json:"openldap"`
}

// Resources are a container's requests and limits as Kubernetes quantities.
type Resources struct {
	Requests struct {
		CPU    string `json:"cpu"`
		Memory string `json:"memory"`
	} `json:"requests"`
	Limits struct {
		CPU    string `json:"cpu,omitempty"`
		Memory string `json:"memory"`
	} `json:"limits"`
}

// SplitStoreID splits "<app>/<kind>/<name>" into its parts.
func SplitStoreID(id string) (app, kind, name string, ok bool) {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}
