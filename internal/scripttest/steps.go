// Package scripttest runs the shell scripts of generated backup CronJobs,
// maintenance CronJobs and restore Jobs on this host, against stub commands
// (restic, pg_dump, pg_restore, mariadb, mariadb-dump, kubectl, rclone,
// redis-cli, nodetool, slapcat) that succeed, fail, cut their output short,
// print nothing or hang on cue, and record every call. It checks failure
// semantics in seconds, where e2e/ checks them against real servers.
//
// It owns the reading of scripts out of a generated tree (Steps), the stubs
// and the sandbox they run in. It works only from the generated output (the
// files generator.Generate returns) and must not reach into the generator's
// internals: a test of a script's behaviour must hold however the generator
// builds it.
package scripttest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/odbackup/odbackup/internal/scripttest/stubs"
)

// Step is one container of a generated CronJob or Job: a step of a backup
// job, the restic maintenance, or a restore.
type Step struct {
	corev1.Container
	// File is the generated file that holds it ("cronjobs/odbackup-nubus.yaml").
	File string
	// Kind is "CronJob" or "Job"; Owner the object's name.
	Kind, Owner string
	// Annotations are the owner's annotations (odbackup.io/stores,
	// odbackup.io/target, odbackup.io/store-id, odbackup.io/method).
	Annotations map[string]string
	// Init is true for an init container: the steps of a backup job run as
	// init containers, in order, and the first failure stops the Pod.
	Init bool
	// Index is the container's position in the Pod: init containers first.
	Index int
	// ServiceAccount is the Pod's ServiceAccount; API is true when the
	// container mounts the API token.
	ServiceAccount string
	API            bool
}

// Copy reports whether the step only copies a static tool (restic,
// busybox) into the shared volume.
func (s *Step) Copy() bool { return strings.HasPrefix(s.Name, "copy-") }

// Offsite reports whether the step copies a volume off-site (a clone of
// its snapshot into restic), beside the volume's snapshot step.
func (s *Step) Offsite() bool { return strings.HasPrefix(s.Name, "offsite-") && !s.Drill() }

// Script is the step's script: the argument of SHELL -c.
func (s *Step) Script() (string, error) {
	n := len(s.Command)
	if n < 3 || s.Command[n-2] != "-c" {
		return "", fmt.Errorf("%s, container %s: command is not [SHELL -c SCRIPT]: %q", s.File, s.Name, s.Command)
	}
	return s.Command[n-1], nil
}

// storeOfScript is the store id a generated script names in its header
// comment ("# odbackup: ... (<app>/<kind>/<name>) ...", also "odbackup
// restore:" and "odbackup drill:").
var storeOfScript = regexp.MustCompile(`(?m)^# odbackup(?: restore| drill)?: [^\n]*?\(([^()\s]+/[^()\s]+/[^()\s]+)\)`)

// StoreOf is the store a generated script names in its header comment (""
// when none, as for the maintenance).
func StoreOf(script string) string {
	if m := storeOfScript.FindStringSubmatch(script); m != nil {
		return m[1]
	}
	return ""
}

// StoreID is the store the step's script names (see StoreOf).
func (s *Step) StoreID() string {
	script, err := s.Script()
	if err != nil {
		return ""
	}
	return StoreOf(script)
}

// UsesBusybox reports whether a container's shell and tools are busybox's:
// the distroless kubectl image runs /tools/sh (busybox, copied in), and the
// official redis, rclone and restic images are Alpine-based. The mariadb
// image is Ubuntu and odbackup's default postgres images are Debian (dash
// and GNU tools, stdbuf among them).
func UsesBusybox(c corev1.Container) bool {
	return len(c.Command) > 0 && (c.Command[0] == "/tools/sh" || c.Command[0] == "/bin/busybox") ||
		!(strings.Contains(c.Image, "/mariadb:") || strings.Contains(c.Image, "/postgres:") && !strings.HasSuffix(c.Image, "-alpine"))
}

// Drill reports whether the step is a restore drill's (its script's
// header says so): drills restore into scratch and are tested on their
// own (drill_test.go).
func (s *Step) Drill() bool {
	script, err := s.Script()
	return err == nil && IsDrill(script)
}

// IsDrill reports whether a generated script is a restore drill's.
func IsDrill(script string) bool { return strings.Contains(script, "\n# odbackup drill: ") }

// Busybox reports whether the step's shell and tools are busybox's (see
// UsesBusybox).
func (s *Step) Busybox() bool { return UsesBusybox(s.Container) }

// Steps decodes every CronJob (cronjobs/) and Job (restore/, pre-upgrade/, repository/) of a generated
// tree into its containers, in file order, then Pod order.
func Steps(tree map[string][]byte) ([]*Step, error) {
	var out []*Step
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if !strings.HasSuffix(p, ".yaml") || !strings.HasPrefix(p, "cronjobs/") && !strings.HasPrefix(p, "restore/") && !strings.HasPrefix(p, "pre-upgrade/") && !strings.HasPrefix(p, "repository/") {
			continue
		}
		for _, doc := range stubs.Docs(tree[p]) {
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			switch head.Kind {
			case "CronJob":
				var cj batchv1.CronJob
				if err := yaml.UnmarshalStrict(doc, &cj); err != nil {
					return nil, fmt.Errorf("%s: %w", p, err)
				}
				out = append(out, podSteps(p, "CronJob", cj.Name, cj.Annotations, cj.Spec.JobTemplate.Spec.Template.Spec)...)
			case "Job":
				var j batchv1.Job
				if err := yaml.UnmarshalStrict(doc, &j); err != nil {
					return nil, fmt.Errorf("%s: %w", p, err)
				}
				out = append(out, podSteps(p, "Job", j.Name, j.Annotations, j.Spec.Template.Spec)...)
			}
		}
	}
	return out, nil
}

func podSteps(file, kind, owner string, ann map[string]string, pod corev1.PodSpec) []*Step {
	var out []*Step
	i := 0
	for _, list := range []struct {
		init bool
		cs   []corev1.Container
	}{{true, pod.InitContainers}, {false, pod.Containers}} {
		for _, c := range list.cs {
			s := &Step{Container: c, File: file, Kind: kind, Owner: owner, Annotations: ann,
				Init: list.init, Index: i, ServiceAccount: pod.ServiceAccountName}
			for _, m := range c.VolumeMounts {
				if m.Name == "kube-api-access" {
					s.API = true
				}
			}
			out = append(out, s)
			i++
		}
	}
	return out
}
