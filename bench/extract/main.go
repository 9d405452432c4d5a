// Command extract takes one container's script and literal environment out
// of a generated CronJob or Job, so the backup-path benchmark runs the very
// script odbackup generates against local servers:
//
//	go run ./bench/extract -file cronjobs/odbackup-xwiki.yaml -container postgresql-xwiki -script /tmp/s.sh > /tmp/env.sh
//
// The script goes to -script; stdout gets one `export NAME='value'` line per
// literal variable (PATH and HOME excepted: the caller's stay). Variables
// from Secrets are left to the caller, which knows the test values.
//
// With -pod NAME, the container is one of a Pod that the container's script
// creates from a quoted here-document (the off-site copy step's copy pod):
// the script and environment of that Pod's container NAME are extracted.
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
	pod := flag.String("pod", "", "container of the Pod the container's script creates (a here-document)")
	script := flag.String("script", "", "where to write the container's script")
	flag.Parse()
	if err := run(*file, *container, *pod, *script); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

func run(file, name, podContainer, scriptPath string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	c, err := find(data, name)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if podContainer != "" {
		script, err := scriptOf(c)
		if err != nil {
			return err
		}
		if c, err = find([]byte(strings.Join(hereDocuments(script), "\n---\n")), podContainer); err != nil {
			return fmt.Errorf("the Pod created by container %s of %s: %w", name, file, err)
		}
	}
	script, err := scriptOf(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		return err
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil && e.Name != "PATH" && e.Name != "HOME" {
			fmt.Printf("export %s='%s'\n", e.Name, strings.ReplaceAll(e.Value, "'", `'\''`))
		}
	}
	return nil
}

// find returns the container called name of the CronJobs, Jobs and Pods in
// the YAML documents of data.
func find(data []byte, name string) (*corev1.Container, error) {
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, err
		}
		var spec *corev1.PodSpec
		switch meta.Kind {
		case "CronJob":
			var cj batchv1.CronJob
			if err := yaml.UnmarshalStrict(doc, &cj); err != nil {
				return nil, err
			}
			spec = &cj.Spec.JobTemplate.Spec.Template.Spec
		case "Job":
			var j batchv1.Job
			if err := yaml.UnmarshalStrict(doc, &j); err != nil {
				return nil, err
			}
			spec = &j.Spec.Template.Spec
		case "Pod":
			var p corev1.Pod
			if err := yaml.UnmarshalStrict(doc, &p); err != nil {
				return nil, err
			}
			spec = &p.Spec
		default:
			continue
		}
		for _, c := range append(spec.InitContainers, spec.Containers...) {
			if c.Name == name {
				return &c, nil
			}
		}
	}
	return nil, fmt.Errorf("no container %s", name)
}

func scriptOf(c *corev1.Container) (string, error) {
	if len(c.Command) != 3 || c.Command[1] != "-c" {
		return "", fmt.Errorf("container %s runs no script", c.Name)
	}
	return c.Command[2], nil
}

// hereDocuments returns the bodies of the script's quoted here-documents
// (<<'EOF' ... EOF), whose text the shell passes on as it stands.
func hereDocuments(script string) []string {
	var docs []string
	var body []string
	in := false
	for _, line := range strings.Split(script, "\n") {
		switch {
		case !in && strings.HasSuffix(line, "<<'EOF'"):
			in, body = true, nil
		case in && line == "EOF":
			in = false
			docs = append(docs, strings.Join(body, "\n"))
		case in:
			body = append(body, line)
		}
	}
	return docs
}
