package main

import (
	"context"
	"fmt"
	"os"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/generator/preflight"
	"github.com/odbackup/odbackup/internal/inventory"
)

const preflightUsage = `Usage: odbackup preflight POLICY (--inventory FILE | --kubeconfig PATH [--context NAME]) [--format text|json]

Compares the site's plan with what is in its namespace. Reports, with the
generated files that need it, every Secret and key, claim, workload, Service
and ConfigMap that a backup CronJob, restore Job or runbook uses and that is
missing; and every PersistentVolumeClaim of the namespace that no store of
the site accounts for (backed up, waived, opted out or never): data nobody
decided about.

--inventory reads what this prints (FILE "-" is standard input):

  kubectl get pvc,statefulsets,deployments,cronjobs,secrets,configmaps,services \
    --namespace=NS --output=json

--kubeconfig lists the same objects from the cluster itself; it only lists
(verb list on those seven resources). Secret values are never printed or
kept: only Secret names and data keys are read.

Exits 0 when everything is there, 1 when something is missing or a claim is
unaccounted for (or the policy is invalid), 2 on a usage error or an
inventory that cannot be read.
`

type preflightOptions struct {
	policy      string
	inventory   string
	kubeconfig  string
	kubeContext string
	format      string
}

func parsePreflightArgs(args []string) (preflightOptions, error) {
	var o preflightOptions
	fs := newFlagSet("preflight")
	fs.StringVar(&o.inventory, "inventory", "", "JSON List of the namespace's objects, as kubectl get -o json prints it (- for stdin)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of a cluster to list the namespace from (read-only)")
	fs.StringVar(&o.kubeContext, "context", "", "kubeconfig context (default: its current context)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	if err := parseFlags(fs, preflightUsage, args); err != nil {
		return o, err
	}
	const usage = "usage: odbackup preflight POLICY (--inventory FILE | --kubeconfig PATH [--context NAME])"
	switch fs.NArg() {
	case 0:
		return o, usagef("preflight: no policy given (%s)", usage)
	case 1:
		o.policy = fs.Arg(0)
	default:
		return o, usagef("preflight: one policy at a time, not %d (%s)", fs.NArg(), usage)
	}
	switch {
	case o.inventory == "" && o.kubeconfig == "":
		return o, usagef("preflight: say where the namespace's objects come from: --inventory FILE or --kubeconfig PATH")
	case o.inventory != "" && o.kubeconfig != "":
		return o, usagef("preflight: --inventory and --kubeconfig exclude each other")
	case o.kubeContext != "" && o.kubeconfig == "":
		return o, usagef("preflight: --context needs --kubeconfig")
	}
	return o, oneOf("format", o.format, "text", "json")
}

func runPreflight(e *env, args []string) error {
	o, err := parsePreflightArgs(args)
	if err != nil {
		return err
	}
	site, err := e.evaluate(o.policy)
	if err != nil {
		return err
	}
	tree, err := generator.Generate(site)
	if err != nil {
		return err
	}
	req, err := preflight.Build(site, tree)
	if err != nil {
		return err
	}
	ns := site.Policy.Namespace
	var inv preflight.Inventory
	if o.inventory != "" {
		inv, err = inventory.ReadFile(o.inventory, ns, os.Stdin)
		if err != nil {
			return usagef("--inventory: %v", err)
		}
	} else {
		inv, err = inventory.Live(context.Background(), o.kubeconfig, o.kubeContext, ns)
		if err != nil {
			return usagef("--kubeconfig: %v", err)
		}
	}
	report := preflight.Check(req, inv)
	out := preflight.Text(report)
	if o.format == "json" {
		if out, err = preflight.JSON(report); err != nil {
			return err
		}
	}
	if _, err := e.stdout.Write(out); err != nil {
		return err
	}
	if report.OK() {
		return nil
	}
	fmt.Fprintf(e.stderr, "odbackup: preflight: namespace %s lacks %d of the %d objects the site needs; %d of its claims no store accounts for\n",
		ns, len(report.Missing), report.Checked, len(report.Unaccounted))
	return errProblemsReported
}
