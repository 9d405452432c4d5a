package generator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// restoreJob decodes one restore Job of an example site.
func restoreJob(t *testing.T, site, file string) *batchv1.Job {
	t.Helper()
	tree := examples(t)[site]
	data, ok := tree[file]
	if !ok {
		t.Fatalf("%s has no %s", site, file)
	}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var j batchv1.Job
		if err := yaml.Unmarshal(doc, &j); err == nil && j.Kind == "Job" {
			return &j
		}
	}
	t.Fatalf("%s/%s holds no Job", site, file)
	return nil
}

// restoreScript is the script of a restore Job's main container.
func restoreScript(t *testing.T, site, file string) string {
	t.Helper()
	return scriptOf(restoreJob(t, site, file).Spec.Template.Spec.Containers[0])
}

// stub writes an executable shell script into dir.
func stub(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// shells are the POSIX shells the scripts run in: dash (as /bin/sh here)
// and busybox sh (the generated pods' shell), when installed.
func shells(t *testing.T) [][]string {
	out := [][]string{{"/bin/sh"}}
	if bb, err := exec.LookPath("busybox"); err == nil {
		out = append(out, []string{bb, "sh"})
	}
	return out
}

// TestRestoreFailsWhenEitherSideFails runs the generated PostgreSQL,
// MariaDB and ConfigMap restores with stub restic, pg_restore, mariadb and
// kubectl: a restic dump that fails fails the Job even when what it wrote
// was consumed without complaint (POSIX sh has no pipefail), a consumer
// that fails fails it too, and a snapshot of another store is refused
// before anything is restored.
func TestRestoreFailsWhenEitherSideFails(t *testing.T) {
	jobs := []struct{ site, file, consumer string }{
		// Keycloak's restore streams; Nextcloud's stages (restoreScratch,
		// TestParallelRestoreScratchVolume and internal/scripttest).
		{"landesamt-it", "restore/nubus/postgresql-keycloak.yaml", "pg_restore"},
		{"landesamt-it", "restore/ox-appsuite/mariadb-configdb.yaml", "mariadb"},
		{"landesamt-it", "restore/migrations/configmap-migrations-status.yaml", "kubectl"},
	}
	cases := []struct {
		name, snapshot    string
		dumpExit, useExit int
		wantOK            bool
		wantLog           string
	}{
		{"both succeed", "latest", 0, 0, true, "restored"},
		{"dump fails after writing everything", "latest", 3, 0, false, "restic dump of"},
		{"consumer fails", "latest", 0, 4, false, "failed (exit 4)"},
		{"snapshot of another store", "0123abcd", 0, 0, false, "is not a snapshot of"},
		{"not a snapshot id", "0123abcd; rm -rf /", 0, 0, false, "neither latest, list nor"},
	}
	for _, sh := range shells(t) {
		for _, j := range jobs {
			script := restoreScript(t, j.site, j.file)
			for _, c := range cases {
				t.Run(fmt.Sprintf("%s/%s/%s", filepath.Base(sh[0]), j.consumer, c.name), func(t *testing.T) {
					dir := t.TempDir()
					log := filepath.Join(dir, "calls")
					// restic: snapshots lists one snapshot of another store;
					// dump writes a dump, then exits with dumpExit.
					stub(t, dir, "restic", fmt.Sprintf(`echo "restic $*" >>%[1]s
case $1 in
snapshots) case $* in *--json*) echo '[{"tags":["database=configdb"],"id":"ffff0000ffff0000","short_id":"ffff0000"}]' ;; esac ;;
dump) echo "CREATE TABLE t; -- kind: ConfigMap"; exit %[2]d ;;
esac
`, log, c.dumpExit))
					consume := fmt.Sprintf("cat >/dev/null; echo \"%s $*\" >>%s; exit %d\n", j.consumer, log, c.useExit)
					if j.consumer == "kubectl" {
						// get answers that the object exists; replace consumes.
						consume = fmt.Sprintf("case $* in *get*) exit 0 ;; esac\n%s", consume)
					}
					stub(t, dir, j.consumer, consume)
					cmd := exec.Command(sh[0], append(sh[1:], "-c", script)...)
					cmd.Env = []string{"PATH=" + dir + ":/usr/bin:/bin", "TMPDIR=" + dir, "ODBACKUP_SNAPSHOT=" + c.snapshot,
						"ODBACKUP_NAMESPACE=test", "PGDATABASE=db", "PGHOST=h", "PGPORT=1", "PGUSER=u",
						"MARIADB_HOST=h", "MARIADB_PORT=1", "MARIADB_USER=u"}
					out, err := cmd.CombinedOutput()
					if (err == nil) != c.wantOK || !strings.Contains(string(out), c.wantLog) {
						t.Errorf("exit %v, want ok=%t and %q in:\n%s", err, c.wantOK, c.wantLog, out)
					}
					calls, _ := os.ReadFile(log)
					if !c.wantOK && c.dumpExit == 0 && c.useExit == 0 && strings.Contains(string(calls), "restic dump") {
						t.Errorf("a refused snapshot was dumped anyway:\n%s", calls)
					}
				})
			}
		}
	}
}

// pvcTemplateOf cuts the go-template a claim restore writes to pvc.tmpl.
func pvcTemplateOf(t *testing.T, script string) string {
	t.Helper()
	start := strings.Index(script, "<<'EOF'\n")
	end := start + strings.Index(script[max(start, 0):], "\nEOF\n")
	if start < 0 || end < start {
		t.Fatalf("no template in:\n%s", script)
	}
	return script[start+len("<<'EOF'\n") : end+1]
}

// TestClaimRestoreKeepsTheClaim renders the claim restore's template the
// way kubectl's go-template printer does, against a live claim with and
// without the optional fields, runs the script's own filter over it, and
// decodes the result strictly: the new claim keeps name, labels and
// annotations (Helm's ownership marks included), class, access modes,
// volume mode and size, drops the volume controllers' annotations, and is
// made from the snapshot.
func TestClaimRestoreKeepsTheClaim(t *testing.T) {
	script := restoreScript(t, "landesamt-it", "restore/postfix/pvc-postfix.yaml")
	tmpl := template.Must(template.New("pvc").Parse(pvcTemplateOf(t, script)))
	filter := regexp.MustCompile(`(?m)^grep -v .*$`).FindString(script)
	if filter == "" {
		t.Fatal("no grep filter in the script")
	}
	live := []string{
		`{"metadata":{"name":"postfix","labels":{"app.kubernetes.io/managed-by":"Helm","odd":"a\"b"},
		  "annotations":{"meta.helm.sh/release-name":"postfix","pv.kubernetes.io/bind-completed":"yes",
		  "volume.kubernetes.io/storage-provisioner":"rbd.csi.ceph.com","volume.beta.kubernetes.io/storage-provisioner":"x","note":"it's \\ \"odd\"\n"}},
		  "spec":{"accessModes":["ReadWriteOnce"],"storageClassName":"ceph-rbd","volumeMode":"Filesystem","volumeName":"pvc-123",
		  "resources":{"requests":{"storage":"8Gi"}}}}`,
		`{"metadata":{"name":"postfix"},"spec":{"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"1Gi"}}}}`,
	}
	for i, l := range live {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatal(err)
		}
		var rendered bytes.Buffer
		if err := tmpl.Execute(&rendered, obj); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		tmp := func(f string) string { return filepath.Join(dir, f) }
		if err := os.WriteFile(tmp("live.yaml"), rendered.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/bin/sh", "-c", filter)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "tmp=" + dir}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("filter: %v\n%s", err, out)
		}
		out, _ := os.ReadFile(tmp("new.yaml"))
		out = append(out, "  dataSource:\n    apiGroup: snapshot.storage.k8s.io\n    kind: VolumeSnapshot\n    name: postfix-20260101-010203\n"...)
		var pvc corev1.PersistentVolumeClaim
		if err := yaml.UnmarshalStrict(out, &pvc); err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, out)
		}
		if pvc.Name != "postfix" || pvc.Spec.DataSource == nil || pvc.Spec.DataSource.Name != "postfix-20260101-010203" {
			t.Errorf("case %d: %+v", i, pvc)
		}
		if i == 0 {
			if pvc.Labels["odd"] != `a"b` || pvc.Annotations["note"] != "it's \\ \"odd\"\n" || pvc.Annotations["meta.helm.sh/release-name"] != "postfix" ||
				*pvc.Spec.StorageClassName != "ceph-rbd" || pvc.Spec.Resources.Requests.Storage().String() != "8Gi" || *pvc.Spec.VolumeMode != "Filesystem" {
				t.Errorf("case %d: the new claim lost something:\n%s", i, out)
			}
			for k := range pvc.Annotations {
				if strings.HasPrefix(k, "pv.kubernetes.io/") || strings.Contains(k, "volume.") {
					t.Errorf("case %d: kept the old volume's annotation %s", i, k)
				}
			}
			if pvc.Spec.VolumeName != "" {
				t.Errorf("case %d: the new claim is bound to the old volume %s", i, pvc.Spec.VolumeName)
			}
		} else if pvc.Spec.StorageClassName != nil || pvc.Spec.VolumeMode != nil {
			t.Errorf("case %d: invented a class or volume mode:\n%s", i, out)
		}
	}
}

// TestRestoreFilesAreNotResources: no restore Job and no runbook is in a
// kustomization, and every restore Job has a runbook that applies it,
// naming the backup (latest).
func TestRestoreFilesAreNotResources(t *testing.T) {
	for site, tree := range examples(t) {
		kust := string(tree["kustomization.yaml"])
		runbooks := ""
		for _, p := range tree.Paths() {
			if strings.HasPrefix(p, "runbooks/") {
				runbooks += string(tree[p])
			}
		}
		for _, p := range tree.Paths() {
			if !strings.HasPrefix(p, "restore/") {
				continue
			}
			if strings.Contains(kust, p) {
				t.Errorf("%s: %s is in the kustomization", site, p)
			}
			// Applied as it is, a restore only lists; the runbook names
			// the backup as it applies the Job.
			if !strings.Contains(runbooks, `value: "latest"/;}' `+p+" | kubectl apply --filename=-") {
				t.Errorf("%s: no runbook applies %s with ODBACKUP_SNAPSHOT=latest", site, p)
			}
		}
		if _, ok := tree["runbooks/README.md"]; !ok {
			t.Errorf("%s: no runbooks/README.md", site)
		}
	}
}

// TestParallelRestoreScratchVolume (issue 19 item 2): a PostgreSQL store
// with restoreScratch (ee-full's Nextcloud) gets a generic ephemeral
// volume of the policy's size and class, mounted where the script stages
// the dump (ODBACKUP_SCRATCH), writable by the Job's unprivileged user
// (fsGroup), and restores with pg_restore --jobs; a store without it
// streams in one transaction and has no scratch volume.
func TestParallelRestoreScratchVolume(t *testing.T) {
	j := restoreJob(t, "landesamt-it", "restore/nextcloud/postgresql-nextcloud.yaml")
	pod := j.Spec.Template.Spec
	var scratch *corev1.Volume
	for i, v := range pod.Volumes {
		if v.Name == "scratch" {
			scratch = &pod.Volumes[i]
		}
	}
	if scratch == nil || scratch.Ephemeral == nil || scratch.Ephemeral.VolumeClaimTemplate == nil {
		t.Fatalf("no generic ephemeral volume named scratch: %+v", pod.Volumes)
	}
	claim := scratch.Ephemeral.VolumeClaimTemplate.Spec
	if q := claim.Resources.Requests[corev1.ResourceStorage]; q.String() != "50Gi" {
		t.Errorf("scratch claim requests %s, want the policy's 50Gi", q.String())
	}
	if claim.StorageClassName == nil || *claim.StorageClassName != "ceph-rbd-fast" {
		t.Errorf("scratch claim class %v, want ceph-rbd-fast", claim.StorageClassName)
	}
	if len(claim.AccessModes) != 1 || claim.AccessModes[0] != corev1.ReadWriteOnce {
		t.Errorf("scratch claim access modes %v, want ReadWriteOnce", claim.AccessModes)
	}
	c := pod.Containers[0]
	mount := ""
	for _, m := range c.VolumeMounts {
		if m.Name == "scratch" && !m.ReadOnly {
			mount = m.MountPath
		}
	}
	if mount == "" || !slices.Contains(c.Env, corev1.EnvVar{Name: "ODBACKUP_SCRATCH", Value: mount}) {
		t.Errorf("the restore container must mount the scratch volume writable where ODBACKUP_SCRATCH points: mounts %v, env %v", c.VolumeMounts, c.Env)
	}
	sc := pod.SecurityContext
	if sc.FSGroup == nil || sc.RunAsGroup == nil || *sc.FSGroup != *sc.RunAsGroup {
		t.Errorf("fsGroup %v: a new volume's root belongs to root; the Job's group (%v) must own it", sc.FSGroup, sc.RunAsGroup)
	}
	script := scriptOf(c)
	if !strings.Contains(script, "pg_restore --clean --if-exists --no-owner --exit-on-error --jobs=4 ") || strings.Contains(script, "--single-transaction") {
		t.Errorf("the parallel restore must run pg_restore --jobs=4 --exit-on-error and never --single-transaction:\n%s", script)
	}

	stream := restoreJob(t, "landesamt-it", "restore/nubus/postgresql-keycloak.yaml").Spec.Template.Spec
	for _, v := range stream.Volumes {
		if v.Ephemeral != nil {
			t.Errorf("a store without restoreScratch has an ephemeral volume %s", v.Name)
		}
	}
	if s := scriptOf(stream.Containers[0]); !strings.Contains(s, "--single-transaction") || strings.Contains(s, "--jobs") {
		t.Errorf("a store without restoreScratch must stream into pg_restore --single-transaction:\n%s", s)
	}
}
