// Package cuemodule embeds odbackup's CUE module: the schema definitions,
// the catalogs of openDesk and openDesk Edu, and the policy entry point.
//
// The directory is cue/ because it is a real CUE module that the upstream
// cue tool and the CUE language server open directly; the Go package is
// named cuemodule so that it never clashes with cuelang.org/go/cue.
package cuemodule

import "embed"

// FS holds the CUE module with cue.mod/module.cue at its root.
//
//go:embed cue.mod/module.cue schema/*.cue catalog/*.cue policy/*.cue
var FS embed.FS

// Module is the CUE module path declared in cue.mod/module.cue.
const Module = "github.com/odbackup/odbackup/cue@v0"

// PolicyPackage is the import path of the package whose #Policy a site
// policy is checked against.
const PolicyPackage = "github.com/odbackup/odbackup/cue/policy"
