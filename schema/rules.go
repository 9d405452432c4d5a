package schema

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/token"
	"github.com/agnivade/levenshtein"
	"github.com/robfig/cron/v3"

	"github.com/odbackup/odbackup/generator/schedule"
)

// checker runs the rules that need the catalog: ids, editions, releases,
// decisions, targets and schedules. CUE checks the shape; these rules check
// meaning, and say why in the words of the storage table.
type checker struct {
	s      *Schema
	user   cue.Value // the user's file alone: positions
	merged cue.Value // the user's file unified with #Policy: values and defaults
	start  token.Pos
	today  string // YYYY-MM-DD for the checks of vet (see Schema.Vet), or ""

	catalog     *Catalog
	edition     string
	releaseLine string
	release     string
	extra       map[string]*App
	apps        map[string]AppPolicy
	stores      map[string]StorePolicy
	services    Services
	hasTarget   bool
	// missingTarget: the policy's targets are invalid, or it defines none
	// although stores need one (reported elsewhere).
	missingTarget bool

	problems Problems
}

func (c *checker) resolution() resolution {
	return resolution{catalog: c.catalog, extra: c.extra, edition: c.edition, releaseLine: c.releaseLine,
		apps: c.apps, stores: c.stores, services: c.services, hasTarget: c.hasTarget}
}

// report adds a problem about the field at path, positioned where the user
// wrote it, or at the start of the file if they did not.
func (c *checker) report(path cue.Path, format string, args ...any) {
	pos := c.user.LookupPath(path).Pos()
	if !pos.IsValid() {
		pos = c.start
	}
	c.problems = append(c.problems, Problem{Path: path.String(), Msg: fmt.Sprintf(format, args...), Pos: []token.Pos{pos}})
}

// decode fills dst from the merged value at path when that part is valid;
// rules that need it are skipped otherwise (CUE reports what is wrong).
func (c *checker) decode(path string, dst any) bool {
	v := c.merged.LookupPath(cue.ParsePath(path))
	if !v.Exists() || v.Validate(cue.Concrete(true)) != nil {
		return false
	}
	return v.Decode(dst) == nil
}

// decodeEach decodes every field of a struct on its own, so that one bad
// entry (reported by CUE) does not hide the rules' findings on the others.
func decodeEach[T any](v cue.Value) map[string]T {
	out := map[string]T{}
	it, err := v.Fields()
	if err != nil {
		return out
	}
	for it.Next() {
		var t T
		if it.Value().Decode(&t) == nil {
			out[unquote(it.Selector().String())] = t
		}
	}
	return out
}

func (c *checker) run() {
	var distribution string
	if c.decode("distribution", &distribution) {
		c.catalog = c.s.catalogs[distribution]
	}
	c.decode("edition", &c.edition)
	if c.decode("release", &c.release) {
		c.releaseLine = ReleaseLine(c.release)
	}
	c.decode("services", &c.services)
	var targets map[string]Target
	c.hasTarget = c.decode("targets", &targets) && len(targets) > 0
	if !c.decode("extraApps", &c.extra) {
		c.extra = nil
	}
	for id, app := range c.extra {
		fillAppIDs(id, app)
	}
	c.apps = decodeEach[AppPolicy](c.user.LookupPath(cue.ParsePath("apps")))
	c.stores = decodeEach[StorePolicy](c.user.LookupPath(cue.ParsePath("stores")))
	c.checkSchedules()
	c.checkTimeZone()
	c.checkWaiverExpiry()
	c.checkPlaceholders()
	if c.catalog == nil {
		return // CUE reports the invalid distribution
	}
	c.checkDistribution()
	c.checkExtraApps()
	c.checkAppIDs()
	c.checkStoreIDs()
	if c.edition == "" || c.releaseLine == "" {
		return // CUE reports the invalid edition or release
	}
	site := c.resolution().resolveApps()
	c.checkDecisions(site)
	c.checkInlineCredentials(site)
	c.checkTargets(site)
	c.checkOffsite(site)
}

// checkOffsite requires a decision on every required volume that would stay
// in CSI snapshots only, on the storage system it lives on. A policy that
// lacks a target altogether hears that once (checkTargets): with a target,
// those volumes are copied off-site by default.
func (c *checker) checkOffsite(site []*SiteApp) {
	if c.missingTarget {
		return
	}
	for _, app := range site {
		for _, st := range app.Stores {
			if st.Status == StatusBackup && st.Kind == "pvc" && st.Backup == "required" && !st.Offsite && st.offsiteDecision(app) == nil {
				c.reportMissing(cue.MakePath(cue.Str("stores"), cue.Str(st.ID)), cue.ParsePath("stores"),
					"%s (%s) would be kept in CSI snapshots only, on the storage system it lives on: define a target so it is copied off-site, or decide offsite: false", st.ID, st.Content)
			}
		}
	}
}

// checkInlineCredentials requires a Secret for every database that is backed
// up and whose chart keeps the password inline: the catalog cannot name a
// Secret upstream does not create, and a job without one cannot start.
func (c *checker) checkInlineCredentials(site []*SiteApp) {
	for _, app := range site {
		for _, st := range app.Stores {
			if st.InlineCredentials == "" || st.Status != StatusBackup || st.Connection.PasswordSecret != nil {
				continue
			}
			// Point at the store's own entry if the site wrote one, else
			// at the stores block, where the missing line belongs.
			enclosing := cue.MakePath(cue.Str("stores"), cue.Str(st.ID))
			if !c.user.LookupPath(enclosing).Exists() {
				enclosing = cue.ParsePath("stores")
			}
			c.reportMissing(cue.MakePath(cue.Str("stores"), cue.Str(st.ID), cue.Str("connection"), cue.Str("passwordSecret")), enclosing,
				"%s is backed up, but upstream keeps its database password inline, in no Secret: %s; create a Secret holding the password of user %q and name it: stores.%q: connection: passwordSecret: {name, key}",
				st.ID, st.InlineCredentials, st.Connection.User, st.ID)
		}
	}
}

// checkDistribution keeps a site to the editions and releases its
// distribution is built on: openDesk Edu exists for openDesk CE v1.17 only.
// A site outside them has no catalog to be checked against, so the rules
// that depend on the edition or release are skipped, as when CUE reports an
// invalid one.
func (c *checker) checkDistribution() {
	builtOn := c.catalog.BuiltOn
	if builtOn == "" {
		builtOn = fmt.Sprintf("the %s distribution exists for openDesk %s, releases %s",
			c.catalog.Distribution, editionNames(c.catalog.Editions), strings.Join(c.catalog.Releases, ", "))
	}
	if c.edition != "" && !slices.Contains(c.catalog.Editions, c.edition) {
		c.report(cue.ParsePath("edition"), "%s; this site's edition is %q, which the %s distribution does not have (allowed: %s)",
			builtOn, c.edition, c.catalog.Distribution, strings.Join(c.catalog.Editions, ", "))
		c.edition = ""
	}
	if c.releaseLine != "" && !slices.Contains(c.catalog.Releases, c.releaseLine) {
		c.report(cue.ParsePath("release"), "%s; this site runs %s, which the %s distribution does not support (allowed: %s)",
			builtOn, c.release, c.catalog.Distribution, strings.Join(c.catalog.Releases, ", "))
		c.releaseLine = ""
	}
}

func (c *checker) checkExtraApps() {
	for _, id := range sortedKeys(c.extra) {
		if _, dup := c.catalog.Apps[id]; dup {
			c.report(cue.MakePath(cue.Str("extraApps"), cue.Str(id)),
				"app %q is already in the %s catalog; give the site's own app another id", id, c.catalog.Distribution)
		}
	}
}

// app finds an app of the catalog or of the site's extras.
func (c *checker) app(id string) *App {
	if a := c.catalog.Apps[id]; a != nil {
		return a
	}
	return c.extra[id]
}

func (c *checker) allAppIDs() []string {
	ids := c.catalog.AppIDs()
	ids = append(ids, sortedKeys(c.extra)...)
	sort.Strings(ids)
	return ids
}

// unknownApp explains an app id the site's distribution does not have.
func (c *checker) unknownApp(path cue.Path, id string) {
	if r, ok := c.catalog.Replaced[id]; ok {
		c.report(path, "%s has no app %q: it is replaced by %s (%s)", c.catalog.Distribution, id, r.By, r.Reason)
		return
	}
	c.report(path, "unknown app %q%s", id, suggest(id, c.allAppIDs()))
}

func (c *checker) checkAppIDs() {
	it, err := c.user.LookupPath(cue.ParsePath("apps")).Fields()
	if err != nil {
		return
	}
	for it.Next() {
		id := unquote(it.Selector().String())
		path := cue.MakePath(cue.Str("apps"), cue.Str(id))
		app := c.app(id)
		switch {
		case app == nil:
			c.unknownApp(path, id)
		case c.edition != "" && !slices.Contains(app.Editions, c.edition):
			c.report(path, "%s exists only in openDesk %s; this site's edition is %q", app.Name, editionNames(app.Editions), c.edition)
		case c.releaseLine != "" && !slices.Contains(app.Releases, c.releaseLine):
			c.report(path, "%s exists only in openDesk %s; this site runs %s", app.Name, strings.Join(app.Releases, ", "), c.release)
		case c.apps[id].ReleaseName != "" && app.DefaultRelease == "":
			c.report(cue.MakePath(cue.Str("apps"), cue.Str(id), cue.Str("releaseName")),
				"%s does not name its objects after its Helm release; releaseName only applies to apps whose catalog entry has a defaultRelease", app.Name)
		}
	}
}

func (c *checker) checkStoreIDs() {
	it, err := c.user.LookupPath(cue.ParsePath("stores")).Fields()
	if err != nil {
		return
	}
	for it.Next() {
		id := unquote(it.Selector().String())
		path := cue.MakePath(cue.Str("stores"), cue.Str(id))
		appID, kind, name, ok := SplitStoreID(id)
		if !ok {
			continue // CUE reports the malformed id
		}
		app := c.app(appID)
		if app == nil {
			c.unknownApp(path, appID)
			continue
		}
		st := app.Stores[kind+"/"+name]
		if st == nil {
			var ids []string
			for _, s := range app.SortedStores() {
				ids = append(ids, s.ID)
			}
			c.report(path, "unknown store %q%s", id, suggest(id, ids))
			continue
		}
		switch {
		case c.edition != "" && !slices.Contains(st.Editions, c.edition):
			c.report(path, "store exists only in openDesk %s (%s); this site's edition is %q and cannot configure it",
				editionNames(st.Editions), st.Content, c.edition)
		case c.releaseLine != "" && !slices.Contains(st.Releases, c.releaseLine):
			c.report(path, "store exists only in openDesk %s (%s); this site runs %s",
				strings.Join(st.Releases, ", "), st.Content, c.release)
		}
	}
}

// checkDecisions enforces the storage table's Backup column.
func (c *checker) checkDecisions(site []*SiteApp) {
	for _, app := range site {
		for _, st := range app.Stores {
			if st.Status == StatusOtherEdition || st.Status == StatusOtherRelease {
				continue // reported by checkStoreIDs when configured
			}
			path := cue.MakePath(cue.Str("stores"), cue.Str(st.ID))
			d := st.Decision
			switch st.Backup {
			case "never":
				if d.Backup != nil && *d.Backup {
					c.report(cue.MakePath(cue.Str("stores"), cue.Str(st.ID), cue.Str("backup")),
						"%s is never backed up (%s): %s", st.ID, st.Content, st.Reason)
				}
				if d.Waiver != nil {
					c.report(cue.MakePath(cue.Str("stores"), cue.Str(st.ID), cue.Str("waiver")),
						"a waiver is only for required stores; %s is never backed up (%s)", st.ID, st.Reason)
				}
			case "optional":
				if d.Waiver != nil {
					c.report(cue.MakePath(cue.Str("stores"), cue.Str(st.ID), cue.Str("waiver")),
						"a waiver is only for required stores; leave out the optional store %s with backup: false", st.ID)
				}
				if st.Status == StatusUndecided {
					c.reportMissing(path, cue.ParsePath("stores"), "optional store of a deployed app needs a decision: set backup: true or backup: false (%s; %s)%s", st.Content, st.Reason, c.newInRelease(st))
				}
			case "required":
				switch {
				case st.Status == StatusUnprotected:
					c.report(cue.MakePath(cue.Str("stores"), cue.Str(st.ID), cue.Str("backup")),
						"%s is required (%s): it can only go without backup with a waiver {reason, expires}%s", st.ID, st.Content, c.newInRelease(st))
				case d.Waiver != nil && d.Backup != nil && *d.Backup:
					c.report(cue.MakePath(cue.Str("stores"), cue.Str(st.ID), cue.Str("waiver")),
						"backup: true and a waiver contradict each other; remove one")
				}
			}
			if d.Offsite != nil && st.Kind != "pvc" {
				c.report(cue.MakePath(cue.Str("stores"), cue.Str(st.ID), cue.Str("offsite")),
					"offsite is for volumes (pvc stores); a %s store's backup leaves the cluster by its own method", st.Kind)
			}
			if d.RestoreScratch != nil && st.Kind != "postgresql" {
				c.report(cue.MakePath(cue.Str("stores"), cue.Str(st.ID), cue.Str("restoreScratch")),
					"restoreScratch is for PostgreSQL stores (pg_restore --jobs reads a staged dump); a %s store's restore does not use it", st.Kind)
			}
			if st.Status == StatusBackup && st.Kind == "pvc" && isPattern(st.Connection.Claim) {
				c.report(path, "claim %q is a pattern; a PVC store that is backed up needs one claim name", st.Connection.Claim)
			}
		}
	}
}

// newInRelease names the release that introduced a store, for a decision a
// release bump asks for: " (new in openDesk v1.19)" when the store is not in
// the catalog's release line before the site's; "" otherwise.
func (c *checker) newInRelease(st *SiteStore) string {
	lines := c.catalog.Releases
	i := slices.Index(lines, c.releaseLine)
	if i <= 0 || slices.Contains(st.Releases, lines[i-1]) {
		return ""
	}
	return fmt.Sprintf(" (new in openDesk %s)", c.releaseLine)
}

// reportMissing positions a problem about a field the user did not write at
// the enclosing block if it exists, else at the start of the file.
func (c *checker) reportMissing(path, enclosing cue.Path, format string, args ...any) {
	pos := c.user.LookupPath(path).Pos()
	if !pos.IsValid() {
		pos = c.user.LookupPath(enclosing).Pos()
	}
	if !pos.IsValid() {
		pos = c.start
	}
	c.problems = append(c.problems, Problem{Path: path.String(), Msg: fmt.Sprintf(format, args...), Pos: []token.Pos{pos}})
}

func isPattern(claim string) bool { return strings.ContainsAny(claim, "*<>/") }

// checkTargets makes sure every store that is backed up has somewhere to go.
func (c *checker) checkTargets(site []*SiteApp) {
	var targets map[string]Target
	if !c.decode("targets", &targets) {
		c.missingTarget = true // CUE reports what is wrong with them
		return
	}
	var defaultTarget string
	c.decode("defaultTarget", &defaultTarget)
	names := sortedKeys(targets)
	if _, ok := targets[defaultTarget]; defaultTarget != "" && !ok {
		c.report(cue.ParsePath("defaultTarget"), "unknown target %q%s", defaultTarget, suggest(defaultTarget, names))
		return
	}
	if defaultTarget == "" && len(targets) == 1 {
		defaultTarget = names[0]
	}
	for id, a := range c.apps {
		if a.Target != "" && !slices.Contains(names, a.Target) {
			c.report(cue.MakePath(cue.Str("apps"), cue.Str(id), cue.Str("target")), "unknown target %q%s", a.Target, suggest(a.Target, names))
		}
	}
	for id, s := range c.stores {
		if s.Target != "" && !slices.Contains(names, s.Target) {
			c.report(cue.MakePath(cue.Str("stores"), cue.Str(id), cue.Str("target")), "unknown target %q%s", s.Target, suggest(s.Target, names))
		}
	}
	var snapshotDriver string
	c.decode("snapshot.driver", &snapshotDriver)
	needsDriver := ""
	for _, app := range site {
		for _, st := range app.Stores {
			if st.Status != StatusBackup {
				continue
			}
			if st.Kind == "pvc" {
				if needsDriver == "" {
					needsDriver = st.ID
				}
				if !st.Offsite {
					continue
				}
			}
			name := st.Decision.Target
			if name == "" {
				name = app.Settings.Target
			}
			if name == "" {
				name = defaultTarget
			}
			if name == "" {
				if len(targets) == 0 {
					c.missingTarget = true
					c.reportMissing(cue.ParsePath("targets"), cue.ParsePath("targets"), "%s is backed up, but no target is defined: add targets: <name>: restic: {repository, passwordSecret}", st.ID)
				} else {
					c.reportMissing(cue.ParsePath("defaultTarget"), cue.ParsePath("targets"), "several targets are defined; set defaultTarget to one of %s", strings.Join(names, ", "))
				}
				return
			}
			t, ok := targets[name]
			if !ok {
				return // reported above
			}
			if st.Kind == "s3" && t.BucketMirror == nil {
				c.report(cue.MakePath(cue.Str("targets"), cue.Str(name)),
					"%s%s is backed up to target %q, which has no bucketMirror: buckets are copied, encrypted by rclone crypt, to bucketMirror {endpoint, bucket, credentials, encryption}", st.ID, c.newInRelease(st), name)
			}
		}
	}
	for _, name := range names {
		t := targets[name]
		if strings.HasPrefix(t.Restic.Repository, "s3:") && t.Restic.S3Credentials == nil {
			c.report(cue.MakePath(cue.Str("targets"), cue.Str(name), cue.Str("restic")),
				"an s3: repository needs s3Credentials {accessKeyID, secretAccessKey} (Secret references)")
		}
	}
	c.checkMaintenance(site, targets)
	if needsDriver != "" && snapshotDriver == "" {
		c.reportMissing(cue.ParsePath("snapshot.driver"), cue.ParsePath("snapshot"),
			"%s and other PVCs are backed up by CSI snapshots: set snapshot.driver to the CSI driver of the site's volumes (kubectl get csidrivers)", needsDriver)
	}
}

// cronParser accepts exactly what Kubernetes accepts for CronJob schedules:
// Kubernetes validates them with the same library and options.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func (c *checker) checkSchedules() {
	// The time zone as the CronJobs will have it: the user's or the
	// default. CUE has checked its shape; whether it exists is checked
	// here, as the API server would.
	var zone string
	var loc *time.Location
	if c.decode("schedule.timeZone", &zone) {
		// An unknown zone is reported by checkTimeZone, with the closest
		// name; its schedules are not checked against it.
		loc, _ = schedule.Location(zone)
	}
	check := func(path cue.Path) {
		v := c.user.LookupPath(path)
		s, err := v.String()
		if err != nil {
			return
		}
		if msg := cronProblem(s); msg != "" {
			c.report(path, "%s", msg)
			return
		}
		if c.today != "" && neverRuns(s) {
			c.report(path, "schedule %q never runs: no date has that day of the month in that month; the CronJob would be created and never start a job", s)
			return
		}
		if loc == nil {
			return
		}
		// The CronJob controller (the same cron library) never runs a
		// time the clocks skip: a daily job at 02:30 in Europe/Berlin
		// has no run on the night of the spring change.
		if at, skipped, err := schedule.SkippedRun(s, loc); err == nil && skipped {
			c.report(path, "schedule %q runs at %s, a time that does not exist in %s (the clocks go forward): "+
				"the job would not run that night; choose a time outside the hour the clocks skip", s, at, zone)
		}
	}
	check(cue.ParsePath("maintenance.schedule"))
	for _, block := range []string{"apps", "stores"} {
		it, err := c.user.LookupPath(cue.ParsePath(block)).Fields()
		if err != nil {
			continue
		}
		for it.Next() {
			check(cue.MakePath(cue.Str(block), cue.Str(unquote(it.Selector().String())), cue.Str("schedule")))
			if block == "apps" {
				drill := cue.MakePath(cue.Str(block), cue.Str(unquote(it.Selector().String())), cue.Str("drill"))
				check(cue.MakePath(append(drill.Selectors(), cue.Str("schedule"))...))
				if c.user.LookupPath(cue.MakePath(append(drill.Selectors(), cue.Str("schedule"))...)).Exists() &&
					c.user.LookupPath(cue.MakePath(append(drill.Selectors(), cue.Str("disabled"))...)).Exists() {
					c.report(cue.MakePath(append(drill.Selectors(), cue.Str("disabled"))...),
						"a drill is either scheduled or disabled, not both: drop schedule to turn the drill off, or disabled to run it")
				}
			}
		}
	}
}

// cronProblem explains why s is not a Kubernetes CronJob schedule, or
// returns "".
func cronProblem(s string) string {
	fields := strings.Fields(s)
	switch {
	case strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ="):
		return fmt.Sprintf("invalid schedule %q: Kubernetes rejects time zones in the schedule; set schedule.timeZone instead", s)
	case len(fields) == 6:
		return fmt.Sprintf("invalid schedule %q: it has 6 fields, but Kubernetes CronJobs have no seconds field; use 5 fields: minute hour day-of-month month day-of-week (drop the first)", s)
	}
	if _, err := cronParser.Parse(s); err != nil {
		return fmt.Sprintf("invalid schedule %q: %v; use 5 fields: minute hour day-of-month month day-of-week", s, err)
	}
	return ""
}

// neverRuns tells whether a schedule matches no date at all, such as
// "0 3 31 2 *". The cron library looks five years ahead of the time it
// starts from, which always includes a leap year from 2001 on; a fixed
// start keeps the answer free of the clock.
func neverRuns(schedule string) bool {
	parsed, err := cronParser.Parse(schedule)
	spec, ok := parsed.(*cron.SpecSchedule)
	if err != nil || !ok {
		return false
	}
	spec.Location = time.UTC
	return spec.Next(time.Date(2001, time.January, 1, 0, 0, 0, 0, time.UTC)).IsZero()
}

// PlaceholderPrefix starts the values `odbackup init` cannot know (the
// domain, the S3 host, the CSI driver); a policy that still has one is not
// finished.
const PlaceholderPrefix = "<replace:"

// checkPlaceholders reports every placeholder of the starter that is still
// in the file, with the line to edit.
func (c *checker) checkPlaceholders() {
	c.user.Walk(func(v cue.Value) bool {
		s, err := v.String()
		if err != nil {
			return true
		}
		start := strings.Index(s, PlaceholderPrefix)
		if start < 0 {
			return true
		}
		placeholder := s[start:]
		if end := strings.IndexByte(placeholder, '>'); end >= 0 {
			placeholder = placeholder[:end+1]
		}
		line := c.start.Line()
		if pos := v.Pos(); pos.IsValid() {
			line = pos.Line()
		}
		c.report(v.Path(), "placeholder of odbackup init: edit line %d and replace %s with the site's own value", line, placeholder)
		return true
	}, nil)
}

// checkWaiverExpiry reports waivers that expired before today: the store
// has gone without backup for longer than was agreed. A waiver is valid
// through its expiry date, as in the coverage gate.
func (c *checker) checkWaiverExpiry() {
	if c.today == "" {
		return
	}
	for _, id := range sortedKeys(c.stores) {
		w := c.stores[id].Waiver
		if w == nil || w.Expires == "" || w.Expires >= c.today {
			continue
		}
		c.report(cue.MakePath(cue.Str("stores"), cue.Str(id), cue.Str("waiver"), cue.Str("expires")),
			"waiver expired on %s (today is %s): back the store up, or renew the waiver with a new expiry date", w.Expires, c.today)
	}
}

// checkTimeZone checks the CronJobs' time zone against the IANA database,
// as the API server does when it admits a CronJob.
func (c *checker) checkTimeZone() {
	path := cue.ParsePath("schedule.timeZone")
	tz, err := c.user.LookupPath(path).String()
	if err != nil {
		return // not written (the default is valid) or not a string (CUE reports it)
	}
	if msg := timeZoneProblem(tz); msg != "" {
		c.report(path, "%s", msg)
	}
}

func editionNames(eds []string) string {
	names := make([]string, len(eds))
	for i, e := range eds {
		names[i] = strings.ToUpper(e)
	}
	return strings.Join(names, " and ")
}

// suggest returns "; did you mean X?" for the closest of candidates, or a
// list of what is allowed when nothing is close.
func suggest(got string, candidates []string) string {
	if best, ok := closest(got, candidates); ok {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	if len(candidates) == 0 {
		return ""
	}
	return "; allowed: " + strings.Join(candidates, ", ")
}

// closest returns the candidate nearest to got, if it is near enough to be
// what was meant.
func closest(got string, candidates []string) (string, bool) {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(strings.ToLower(got), strings.ToLower(c))
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, best != "" && bestDist <= max(2, len(got)/4)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkMaintenance checks a target's maintenance credentials: they replace
// the backups' (so there must be some, and their keys must fit one
// Secret), or the URL; and no backup, restore or drill reads their Secret,
// else the backups could delete what the maintenance alone may delete.
func (c *checker) checkMaintenance(site []*SiteApp, targets map[string]Target) {
	// readers: every Secret a backup, restore or drill Pod reads, and what
	// reads it.
	readers := map[string]string{}
	read := func(name, what string) {
		if _, ok := readers[name]; !ok && name != "" {
			readers[name] = what
		}
	}
	for _, name := range sortedKeys(targets) {
		t := targets[name]
		read(t.Restic.PasswordSecret.Name, fmt.Sprintf("the restic password of target %q", name))
		if cr := t.Restic.S3Credentials; cr != nil {
			read(cr.AccessKeyID.Name, fmt.Sprintf("s3Credentials of target %q", name))
			read(cr.SecretAccessKey.Name, fmt.Sprintf("s3Credentials of target %q", name))
		}
		if cr := t.Restic.RESTCredentials; cr != nil {
			read(cr.Username.Name, fmt.Sprintf("restCredentials of target %q", name))
			read(cr.Password.Name, fmt.Sprintf("restCredentials of target %q", name))
		}
		if bm := t.BucketMirror; bm != nil {
			what := fmt.Sprintf("the bucketMirror of target %q", name)
			for _, r := range []SecretKeyRef{bm.Credentials.AccessKeyID, bm.Credentials.SecretAccessKey, bm.Encryption.PasswordSecret, bm.Encryption.SaltSecret} {
				read(r.Name, what)
			}
		}
	}
	for _, app := range site {
		for _, st := range app.Stores {
			if st.Status != StatusBackup {
				continue
			}
			for _, r := range []*SecretKeyRef{st.Connection.PasswordSecret, st.Connection.SecretKeySecret} {
				if r != nil {
					read(r.Name, "the backup of "+st.ID)
				}
			}
			if st.Kind == "secret" {
				read(st.Connection.Name, "the backup of "+st.ID+", which backs up this Secret")
			}
		}
	}
	for _, name := range sortedKeys(targets) {
		t := targets[name]
		m := t.Restic.Maintenance
		if m == nil {
			continue
		}
		path := cue.MakePath(cue.Str("targets"), cue.Str(name), cue.Str("restic"), cue.Str("maintenance"))
		if m.CredentialsSecret == "" && m.Repository == "" {
			c.report(path, "maintenance needs credentialsSecret (a Secret with the maintenance's credentials, under the keys s3Credentials or restCredentials name), repository (the same repository by another URL), or both")
			continue
		}
		if m.Repository != "" && m.Repository == t.Restic.Repository {
			c.report(path.Append(cue.Str("repository")), "maintenance.repository is restic.repository itself; leave it out, or give the URL by which the maintenance reaches the repository with the right to delete (e.g. a rest-server without --append-only)")
		}
		if m.CredentialsSecret == "" {
			continue
		}
		spath := path.Append(cue.Str("credentialsSecret"))
		s3, rest := t.Restic.S3Credentials, t.Restic.RESTCredentials
		switch {
		case s3 == nil && rest == nil:
			c.report(spath, "credentialsSecret replaces the Secrets of s3Credentials or restCredentials for the maintenance, but target %q has neither; give the target's own credentials first", name)
			continue
		case s3 != nil && s3.AccessKeyID.Key == s3.SecretAccessKey.Key:
			c.report(spath, "credentialsSecret holds both keys s3Credentials names, but both are %q: give s3Credentials two different keys (e.g. accessKeyID and secretAccessKey)", s3.AccessKeyID.Key)
			continue
		case rest != nil && rest.Username.Key == rest.Password.Key:
			c.report(spath, "credentialsSecret holds both keys restCredentials names, but both are %q: give restCredentials two different keys (e.g. username and password)", rest.Username.Key)
			continue
		}
		if what, ok := readers[m.CredentialsSecret]; ok {
			c.report(spath, "Secret %q is also read by %s: the maintenance's Secret must be one that no backup, restore or drill reads, else the backups can delete what only the maintenance may delete", m.CredentialsSecret, what)
		}
	}
}
