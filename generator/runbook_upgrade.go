package generator

import (
	"fmt"
	"strings"
)

// upgradeRunbook renders runbooks/upgrade.md: suspend the backups, take a
// backup of every store right before the upgrade, upgrade openDesk, move the
// policy to the new release, resume; and how to roll back from the
// pre-upgrade backups when the upgrade fails.
func (rb *runbooks) upgradeRunbook() []byte {
	pol := rb.pol
	m := &markdown{}
	m.heading(1, "Upgrading openDesk: %s", pol.Site)
	m.para("%s", rb.siteLine())
	m.note(generatedNote)
	m.para("openDesk's upgrades change database schemas and run one-shot migrations that cannot be undone; the way back from a failed upgrade is a restore. This page takes a backup of every store right before the upgrade, with the backup CronJobs' own pods, and keeps it until the next upgrade. Run the commands from the site's output folder (the one that holds %s).", code("kustomization.yaml"))

	var cronJobs []string
	for _, j := range rb.plan.Jobs {
		cronJobs = append(cronJobs, j.Name)
	}
	var maintenance []string
	for _, mj := range rb.plan.Maintenance {
		maintenance = append(maintenance, mj.Name)
	}
	all := append(append([]string(nil), cronJobs...), maintenance...)
	if len(cronJobs) == 0 {
		m.para("This site backs nothing up, so there is nothing to take before an upgrade.")
		return m.bytes()
	}

	m.heading(2, "1. Before the day: what the upgrade changes")
	m.para("In the GitOps repository, with the release you upgrade to:")
	m.code("sh", fmt.Sprintf("odbackup upgrade %s --to vX.Y.Z", shq(rb.policyFile())))
	m.para("It lists the stores the release adds, removes or changes and the decisions the policy needs first. Make them in the policy now, in a merge request, but keep %s at %s until openDesk runs the new release.", code("release"), code(pol.Release))

	m.heading(2, "2. Suspend the backups")
	m.para("So that no scheduled run and no prune overlaps the upgrade:")
	var b strings.Builder
	for _, name := range all {
		b.WriteString(rb.kubectl(fmt.Sprintf(`patch cronjob %s --type=merge --patch='{"spec":{"suspend":true}}'`, name)) + "\n")
	}
	m.code("sh", b.String())
	m.para("If Argo CD or Flux applies the site's folder with self-healing, it sets %s back: pause the sync of the site's application first. Wait until no backup Job runs any more (the list shows no Job without a completion time):", code("suspend"))
	m.code("sh", rb.kubectl(fmt.Sprintf("get jobs --selector=%s=%s", labelSite, pol.Site)))

	m.heading(2, "3. Take the pre-upgrade backups")
	m.para("One Job per backup CronJob, with the CronJob's pod; their restic snapshots are tagged %s and %s. Jobs of an earlier upgrade are deleted first (their names are fixed):", code(preUpgradeTag), code("from="+pol.Release))
	b.Reset()
	b.WriteString(rb.kubectl(fmt.Sprintf("delete job --selector=%s=true --ignore-not-found", labelPreUpgrade)) + "\n")
	b.WriteString(rb.kubectl("apply --filename=pre-upgrade/") + "\n")
	var jobs []string
	for _, j := range rb.plan.Jobs {
		jobs = append(jobs, "job/"+preUpgradeJobName(j))
	}
	b.WriteString(rb.kubectl("wait --for=condition=complete --timeout=6h " + strings.Join(jobs, " ")))
	m.code("sh", b.String())
	m.para("A Job that fails never completes, so %s waits for it until its timeout: while it waits, look in a second shell. The upgrade starts only when this prints %d Jobs, each with %s under SUCCEEDED:", code("kubectl wait"), len(jobs), code("1"))
	m.code("sh", rb.kubectl(fmt.Sprintf(`get jobs --selector=%s=true --output=custom-columns=JOB:.metadata.name,SUCCEEDED:.status.succeeded,FAILED:.status.failed`, labelPreUpgrade)))
	first := preUpgradeJobName(rb.plan.Jobs[0])
	m.para("A Job that failed: read its log (for the first one, %s), fix the cause, delete that Job and apply its file (%s) again. Do not upgrade without a complete pre-upgrade backup.",
		code(rb.kubectl("logs job/"+first+" --all-containers")), code("pre-upgrade/"+first+".yaml"))
	if rb.plan.UsesSnapshots() {
		m.para("Volumes backed up as CSI snapshots stay on the cluster's storage and are pruned by count (%s) like every night's: the pre-upgrade snapshot of a volume is kept for the next %d runs of its CronJob, not until the next upgrade.", code("snapshot.keep"), pol.Snapshot.Keep-1)
	}

	m.heading(2, "4. Upgrade openDesk")
	m.para("As openDesk's documentation says for the release (its migration notes first). Do not resume the backups yet.")

	m.heading(2, "5. Move the policy to the new release")
	m.para("In the GitOps repository: set %s to the new release in %s, check it with %s, and build the site's folder again as your CI does (%s into the folder that holds this one). Merge it and let the sync apply it (resume the sync you paused). The new CronJobs know the stores of the new release.",
		code("release"), code(rb.policyFile()), code("odbackup vet "+shq(rb.policyFile())), code("odbackup build "+shq(rb.policyFile())+" -o"))

	m.heading(2, "6. Resume the backups")
	b.Reset()
	for _, name := range all {
		b.WriteString(rb.kubectl(fmt.Sprintf(`patch cronjob %s --type=merge --patch='{"spec":{"suspend":false}}'`, name)) + "\n")
	}
	m.code("sh", b.String())
	m.para("Applying the new output also sets %s back to false.", code("suspend"))

	m.heading(2, "When the upgrade fails: roll back")
	m.para("Go back to the old release of openDesk (its Helm charts), then restore every app from the pre-upgrade backups, in the order of %s (data services, then identity, then the apps; %s first). In each app's runbook, take as %s the pre-upgrade snapshot of the store instead of the newest:", link("the disaster-recovery order", "README.md"), code("migrations-status"), code("<snapshot>"))
	m.code("sh", fmt.Sprintf("restic snapshots --host=%s --tag=%s --tag=from=%s", shq(pol.Site), preUpgradeTag, pol.Release))
	m.para("(with the target's repository and password set as in %s). The restic maintenance keeps the newest pre-upgrade snapshot of every store out of the daily, weekly and monthly count, until the next upgrade's pre-upgrade Jobs replace it. Volumes come back from their CSI snapshot of the pre-upgrade run (the one whose time is that of the Job).", link("finding the backups", "README.md#3-finding-the-backups"))
	return m.bytes()
}
