// Package docsite turns a generated site tree's runbooks and coverage
// report into a publishable documentation site (HTML or Markdown) with
// every link checked.
//
// It only reads an already generated tree: it must not plan, generate
// manifests or do I/O (the CLI writes its result).
package docsite
