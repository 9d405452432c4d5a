package generator

import (
	"strings"

	"github.com/odbackup/odbackup/schema"
)

// restoreTarget names what a restore Job restores: a noun, the object's
// name and, for the heading, what kind of thing it is.
func restoreTarget(r *RestoreJob) (noun, name, kind string) { return kindOf(r.Step).restoreTarget(r) }

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
	if st.Store.Restore.PrimaryOnly && !st.Kind.Traits().Export {
		m.para("This is a volume of the primary (leader) server, and only the primary is restored: its secondaries, if any run, copy the data from it again.")
	}
	kindOf(st).runbookSection(rb, m, app, r)
}
