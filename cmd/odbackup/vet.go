package main

import (
	"runtime"
	"time"
)

const vetUsage = `Usage: odbackup vet POLICY... [--today YYYY-MM-DD]

Checks each site policy against the schema and the catalog of its
distribution: unknown fields and ids, stores of the other edition or release,
decisions on optional stores, waivers (an expired one is an error: a waiver
is valid through its expiry date), schedules (one that never runs is an
error), the time zone (against the IANA database), targets and names.
Prints nothing and exits 0 when every policy is valid; prints every problem
with file:line:col and exits 1 otherwise; exits 2 on a usage error.
`

type vetOptions struct {
	policies []string
	today    string
}

func parseVetArgs(args []string) (vetOptions, error) {
	var o vetOptions
	fs := newFlagSet("vet")
	fs.StringVar(&o.today, "today", "", "date that waiver expiry is checked against (default: today)")
	if err := parseFlags(fs, vetUsage, args); err != nil {
		return vetOptions{}, err
	}
	if fs.NArg() == 0 {
		return vetOptions{}, usagef("vet: no policy given (usage: odbackup vet POLICY...)")
	}
	if err := checkDate("today", o.today); err != nil {
		return vetOptions{}, err
	}
	o.policies = fs.Args()
	return o, nil
}

func runVet(e *env, args []string) error {
	opts, err := parseVetArgs(args)
	if err != nil {
		return err
	}
	// The real date is read here, at the edge, never in schema/.
	if opts.today == "" {
		opts.today = e.now().Format(time.DateOnly)
	}
	_, err = e.checkBatch(opts.policies, runtime.GOMAXPROCS(0), false, evaluatorOn(opts.today))
	return err
}
