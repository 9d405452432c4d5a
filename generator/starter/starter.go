package starter

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/odbackup/odbackup/schema"
)

// StarterOptions are the flags of `odbackup init`.
type StarterOptions struct {
	Distribution string
	Edition      string
	Release      string
	Site         string
	Domain       string
	Namespace    string
}

// MinimalPolicy is the smallest valid policy for the options: the fields
// only a site can know, a target, and a decision on every optional store.
// Its evaluation gives the defaults the starter writes out.
func MinimalPolicy(o StarterOptions, cat *schema.Catalog) []byte {
	var b strings.Builder
	writeHead(&b, o, false)
	writeTarget(&b, o, false)
	fmt.Fprintf(&b, "snapshot: driver: %q\n", standInCSIDriver)
	b.WriteString("stores: {\n")
	for _, app := range schema.DefaultApps(cat, o.Edition, o.Release) {
		for _, st := range app.Stores {
			if st.Status == schema.StatusUndecided {
				fmt.Fprintf(&b, "\t%q: backup: true\n", st.ID)
			}
			if st.InlineCredentials != "" && st.Status == schema.StatusBackup {
				ref := starterPasswordSecret(st.Store)
				fmt.Fprintf(&b, "\t%q: connection: passwordSecret: {name: %q, key: %q}\n", st.ID, ref.Name, ref.Key)
			}
		}
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

// starterPasswordSecret is the Secret a starter names for a database whose
// chart keeps the password inline: one Secret for all of them, keyed by
// database, which the site creates.
func starterPasswordSecret(st *schema.Store) schema.SecretKeyRef {
	return schema.SecretKeyRef{Name: "odbackup-db-passwords", Key: st.Connection.Database}
}

// The minimal policy is evaluated, never printed: valid stand-ins take the
// place of what only the site knows. The starter prints placeholders
// instead (schema.PlaceholderPrefix), which vet refuses until they are
// replaced, so no made-up endpoint or driver reaches a cluster.
const (
	standInCSIDriver = "csi.example.org"
	standInDomain    = "opendesk.example.org"
	standInS3Host    = "s3.example.org"
)

// Placeholders of the printed starter.
const (
	csiDriverPlaceholder = schema.PlaceholderPrefix + " CSI driver of the site's volumes, see kubectl get csidrivers>"
	domainPlaceholder    = schema.PlaceholderPrefix + " openDesk's global.domain>"
	s3HostPlaceholder    = schema.PlaceholderPrefix + " host of the S3 server for backups>"
)

func writeHead(b *strings.Builder, o StarterOptions, placeholders bool) {
	domain := o.Domain
	if domain == "" {
		domain = standInDomain
		if placeholders {
			domain = domainPlaceholder
		}
	}
	fmt.Fprintf(b, "site:         %q\n", o.Site)
	fmt.Fprintf(b, "distribution: %q\n", o.Distribution)
	fmt.Fprintf(b, "edition:      %q\n", o.Edition)
	fmt.Fprintf(b, "release:      %q\n", o.Release)
	fmt.Fprintf(b, "namespace:    %q\n", o.Namespace)
	fmt.Fprintf(b, "domain:       %q\n", domain)
}

func writeTarget(b *strings.Builder, o StarterOptions, placeholders bool) {
	host := standInS3Host
	if placeholders {
		host = s3HostPlaceholder
	}
	fmt.Fprintf(b, `targets: offsite: {
	restic: {
		repository: "s3:https://%[2]s/opendesk-backup/%[1]s/restic"
		passwordSecret: {name: "odbackup-restic", key: "password"}
		s3Credentials: {
			accessKeyID: {name: "odbackup-s3", key: "accessKeyID"}
			secretAccessKey: {name: "odbackup-s3", key: "secretAccessKey"}
		}
	}
	bucketMirror: {
		endpoint: "https://%[2]s"
		bucket:   "opendesk-backup"
		prefix:   "%[1]s/buckets"
		credentials: {
			accessKeyID: {name: "odbackup-s3", key: "accessKeyID"}
			secretAccessKey: {name: "odbackup-s3", key: "secretAccessKey"}
		}
		encryption: {
			passwordSecret: {name: "odbackup-rclone-crypt", key: "password"}
			saltSecret: {name: "odbackup-rclone-crypt", key: "salt"}
		}
	}
}
`, o.Site, host)
}

// StarterPolicy writes the policy `odbackup init` prints: the minimal
// policy's values with every default spelled out and commented.
func StarterPolicy(o StarterOptions, site *schema.Site) []byte {
	p := site.Policy
	var b strings.Builder
	fmt.Fprintf(&b, "// Backup policy of the openDesk site %q, written by `odbackup init`.\n", o.Site)
	b.WriteString("// Check it with `odbackup vet site.cue`; build it with `odbackup build site.cue -o out/`.\n")
	b.WriteString("// Every default is written out; delete what you do not change.\n")
	b.WriteString("// Replace every \"" + schema.PlaceholderPrefix + " ...>\": vet names the lines.\n\n")
	writeHead(&b, o, true)
	b.WriteString("\n// Where backups go. The Secrets must exist in the namespace; the policy only\n")
	b.WriteString("// names them. S3 buckets are copied to bucketMirror, encrypted by rclone crypt.\n")
	writeTarget(&b, o, true)

	b.WriteString("\n// Apps, with openDesk's default enablement for this edition and release.\napps: {\n")
	for _, app := range site.Apps {
		if app.Extra || !contains(app.Editions, p.Edition) || !contains(app.Releases, site.ReleaseLine) {
			continue
		}
		fmt.Fprintf(&b, "\t%s: deployed: %t // %s\n", label(app.ID), app.Deployed, app.Name)
	}
	b.WriteString("}\n\n// The storage table leaves these stores to the site (Backup: Optional).\n")
	b.WriteString("// Only stores of deployed apps: deploy an app and vet asks for its decisions.\nstores: {\n")
	for _, app := range site.Apps {
		if !app.Deployed {
			continue
		}
		for _, st := range app.Stores {
			if st.Backup != "optional" || st.Status == schema.StatusOtherEdition || st.Status == schema.StatusOtherRelease {
				continue
			}
			fmt.Fprintf(&b, "\t// %s: %s\n", st.Content, st.Reason)
			backup := true
			if st.Decision.Backup != nil {
				backup = *st.Decision.Backup
			}
			fmt.Fprintf(&b, "\t%q: backup: %t\n", st.ID, backup)
		}
	}
	for _, app := range site.Apps {
		for _, st := range app.Stores {
			if st.InlineCredentials == "" || st.Status != schema.StatusBackup || st.Connection.PasswordSecret == nil {
				continue
			}
			fmt.Fprintf(&b, "\t// Upstream keeps this password inline, in no Secret (%s):\n", st.InlineCredentials)
			fmt.Fprintf(&b, "\t// create the Secret below with the password of user %s.\n", st.Connection.User)
			fmt.Fprintf(&b, "\t%q: connection: passwordSecret: {name: %q, key: %q}\n", st.ID, st.Connection.PasswordSecret.Name, st.Connection.PasswordSecret.Key)
		}
	}
	b.WriteString("}\n\n")

	fmt.Fprintf(&b, `// Jobs without their own schedule start inside this window, each at a
// minute derived from its name.
schedule: {
	window: {start: %q, hours: %d}
	timeZone: %q
}

// restic GFS retention per store.
retention: {daily: %d, weekly: %d, monthly: %d}

// CSI snapshots of PVCs. driver: see kubectl get csidrivers.
snapshot: {
	driver:              %q
	className:           %q
	deletionPolicy:      %q
	keep:                %d
	readyTimeoutSeconds: %d
	parameters: {}
}

// restic maintenance per target: unlock, forget --prune, check.
maintenance: {schedule: %q, readDataSubset: %q}

// Where openDesk's shared services run; set host/port for external ones.
services: {
	postgresql: version: %d
	s3: {endpoint: %q, region: %q, pathStyle: %t}
}

images: {
	restic:    %q
	mariadb:   %q
	rclone:    %q
	kubectl:   %q
	busybox:   %q
	redis:     %q
	cassandra: %q
}

resources: {
	requests: {cpu: %q, memory: %q}
	limits: memory: %q
}
`, p.Schedule.Window.Start, p.Schedule.Window.Hours, p.Schedule.TimeZone,
		p.Retention.Daily, p.Retention.Weekly, p.Retention.Monthly,
		csiDriverPlaceholder, p.Snapshot.ClassName, p.Snapshot.DeletionPolicy, p.Snapshot.Keep, p.Snapshot.ReadyTimeoutSeconds,
		p.Maintenance.Schedule, p.Maintenance.ReadDataSubset,
		p.Services.PostgreSQL.Version, p.Services.S3.Endpoint, p.Services.S3.Region, p.Services.S3.PathStyle,
		p.Images.Restic, p.Images.MariaDB, p.Images.Rclone, p.Images.Kubectl, p.Images.Busybox, p.Images.Redis, p.Images.Cassandra,
		p.Resources.Requests.CPU, p.Resources.Requests.Memory, p.Resources.Limits.Memory)
	return []byte(b.String())
}

// label quotes a CUE label when it is not a plain identifier.
func label(s string) string {
	if strings.Contains(s, "-") {
		return strconv.Quote(s)
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
