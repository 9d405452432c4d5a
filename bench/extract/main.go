// Command extract takes one container's script and literal environment out
// of a generated CronJob or Job, so the backup-path benchmark runs the very
// script odbackup generates against local servers:
//
//	go run ./bench/extract -file cronjobs/odbackup-xwiki.yaml -container postgresql-xwiki -script /tmp/s.sh > /tmp/env.sh
//
// The script goes to -script; stdout gets one `export NAME='value'` line per
// literal variable (PATH and HOME excepted: the caller's stay). Variables
// from Secrets are left to the caller, which knows the test values.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	file := flag.String("file", "", "generated YAML file with a CronJob or Job")
	container := flag.String("container", "", "container name")
	script := flag.String("script", "", "where to write the container's script")
	flag.Parse()
	if err := run(*file, *container, *script); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

func run(file, name, scriptPath string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return err
		}
		var spec *corev1.PodSpec
		switch meta.Kind {
		case "CronJob":
			var cj batchv1.CronJob
			if err := yaml.UnmarshalStrict(doc, &cj); err != nil {
				return err
			}
			spec = &cj.Spec.JobTemplate.Spec.Template.Spec
		case "Job":
			var j batchv1.Job
			if err := yaml.UnmarshalStrict(doc, &j); err != nil {
				return err
			}
			spec = &j.Spec.Template.Spec
		default:
			continue
		}
		for _, c := range append(spec.InitContainers, spec.Containers...) {
			if c.Name != name {
				continue
			}
			if len(c.Command) != 3 || c.Command[1] != "-c" {
				return fmt.Errorf("container %s runs no script", name)
			}
			if err := os.WriteFile(scriptPath, []byte(c.Command[2]), 0o644); err != nil {
				return err
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil && e.Name != "PATH" && e.Name != "HOME" {
					fmt.Printf("export %s='%s'\n", e.Name, strings.ReplaceAll(e.Value, "'", `'\''`))
				}
			}
			return nil
		}
	}
	return fmt.Errorf("%s has no container %s", file, name)
}
