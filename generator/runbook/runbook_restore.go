package runbook

import (
	"strings"

	"github.com/odbackup/odbackup/generator/kinds"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/schema"
)

// restoreTarget names what a restore Job restores: a noun, the object's
// name and, for the heading, what kind of thing it is.
func restoreTarget(r *kinds.RestoreJob) (noun, name, kind string) {
	return kinds.Of(r.Step).RestoreTarget(r)
}

// restoreTitlePlain names what a restore Job restores, without Markdown:
// "database nextcloud".
func restoreTitlePlain(r *kinds.RestoreJob) string {
	noun, name, _ := restoreTarget(r)
	return noun + " " + name
}

// restoreTitle is a restore section's heading: "Database `nextcloud`
// (PostgreSQL)".
func restoreTitle(r *kinds.RestoreJob) string {
	noun, name, kind := restoreTarget(r)
	return strings.ToUpper(noun[:1]) + noun[1:] + " " + markdown.Code(name) + " (" + kind + ")"
}

// restoreSection is one store's restore: what the Job does and why, what
// to do before it, the commands, and what to do after it.
func (rb *runbooks) restoreSection(m *markdown.Doc, app *schema.SiteApp, number string, r *kinds.RestoreJob) {
	st := r.Step
	m.Heading(3, "%s %s", number, restoreTitle(r))
	m.Para("Store %s: %s. Restore Job: %s.", markdown.Code(st.Store.ID), st.Store.Content, markdown.Link(markdown.Code(r.Path), "../"+r.Path))
	if st.Store.Restore.PrimaryOnly && !st.Kind.Traits().Export {
		m.Para("This is a volume of the primary (leader) server, and only the primary is restored: its secondaries, if any run, copy the data from it again.")
	}
	kinds.Of(st).RunbookSection(rb, m, app, r)
}
