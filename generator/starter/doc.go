// Package starter writes the site policies `odbackup init` starts from
// (MinimalPolicy, StarterPolicy), from the catalog.
//
// It produces CUE source text only; it must not evaluate, plan or do I/O
// (the CLI writes and validates the result).
package starter
