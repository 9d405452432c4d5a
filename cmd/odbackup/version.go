package main

import (
	"fmt"
	"runtime/debug"
)

const versionUsage = `Usage: odbackup version

Prints odbackup's module version and the CUE version it embeds; the same as
odbackup --version.
`

func runVersion(e *env, args []string) error {
	fs := newFlagSet("version")
	if err := parseFlags(fs, versionUsage, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("version: unexpected argument %q (usage: odbackup version)", fs.Arg(0))
	}
	version, cueVersion := "(devel)", "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		for _, d := range info.Deps {
			if d.Path == "cuelang.org/go" {
				cueVersion = d.Version
			}
		}
	}
	fmt.Fprintf(e.stdout, "odbackup %s (cuelang.org/go %s)\n", version, cueVersion)
	return nil
}
