// Command stub plays the commands the generated scripts call, for the
// script tests of internal/scripttest: a sandbox links it under each
// command's name (restic, kubectl, pg_dump, ...). See package stubs.
package main

import "github.com/odbackup/odbackup/internal/scripttest/stubs"

func main() { stubs.Main() }
