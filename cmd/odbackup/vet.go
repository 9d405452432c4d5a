package main

const vetUsage = `Usage: odbackup vet POLICY...

Checks each site policy against the schema and the catalog of its
distribution: unknown fields and ids, stores of the other edition or release,
decisions on optional stores, waivers, schedules, targets and names.
Prints nothing and exits 0 when every policy is valid; prints every problem
with file:line:col and exits 1 otherwise; exits 2 on a usage error.
`

type vetOptions struct {
	policies []string
}

func parseVetArgs(args []string) (vetOptions, error) {
	fs := newFlagSet("vet")
	if err := parseFlags(fs, vetUsage, args); err != nil {
		return vetOptions{}, err
	}
	if fs.NArg() == 0 {
		return vetOptions{}, usagef("vet: no policy given (usage: odbackup vet POLICY...)")
	}
	return vetOptions{policies: fs.Args()}, nil
}

func runVet(e *env, args []string) error {
	opts, err := parseVetArgs(args)
	if err != nil {
		return err
	}
	_, err = e.evaluateAll(opts.policies)
	return err
}
