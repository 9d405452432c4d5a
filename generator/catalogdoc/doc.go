// Package catalogdoc renders the catalog of openDesk's stores (what odbackup
// knows of each app's databases, buckets and volumes, with sources) as a
// JSON document and as Markdown.
//
// It reads the catalog only; it must not read a site policy, plan or do I/O.
package catalogdoc
