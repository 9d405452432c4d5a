package runbook

import (
	"fmt"
	"strings"

	"github.com/odbackup/odbackup/generator/manifest"
	"github.com/odbackup/odbackup/generator/markdown"
	"github.com/odbackup/odbackup/generator/shell"
)

// upgradeRunbook renders runbooks/upgrade.md: suspend the backups, take a
// backup of every store right before the upgrade, upgrade openDesk, move the
// policy to the new release, resume; and how to roll back from the
// pre-upgrade backups when the upgrade fails.
func (rb *runbooks) upgradeRunbook() []byte {
	pol := rb.pol
	m := &markdown.Doc{}
	m.Heading(1, "Upgrading openDesk: %s", pol.Site)
	m.Para("%s", rb.siteLine())
	m.Note(generatedNote)
	m.Para("openDesk's upgrades change database schemas and run one-shot migrations that cannot be undone; the way back from a failed upgrade is a restore. This page takes a backup of every store right before the upgrade, with the backup CronJobs' own pods, and keeps it until the next upgrade. Run the commands from the site's output folder (the one that holds %s).", markdown.Code("kustomization.yaml"))

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
		m.Para("This site backs nothing up, so there is nothing to take before an upgrade.")
		return m.Bytes()
	}

	m.Heading(2, "1. Before the day: what the upgrade changes")
	m.Para("In the GitOps repository, with the release you upgrade to:")
	m.CodeBlock("sh", fmt.Sprintf("odbackup upgrade %s --to vX.Y.Z", shell.Quote(rb.policyFile())))
	m.Para("It lists the stores the release adds, removes or changes and the decisions the policy needs first. Make them in the policy now, in a merge request, but keep %s at %s until openDesk runs the new release.", markdown.Code("release"), markdown.Code(pol.Release))

	m.Heading(2, "2. Suspend the backups")
	m.Para("So that no scheduled run and no prune overlaps the upgrade:")
	var b strings.Builder
	for _, name := range all {
		b.WriteString(rb.Kubectl(fmt.Sprintf(`patch cronjob %s --type=merge --patch='{"spec":{"suspend":true}}'`, name)) + "\n")
	}
	m.CodeBlock("sh", b.String())
	m.Para("If Argo CD or Flux applies the site's folder with self-healing, it sets %s back: pause the sync of the site's application first. Wait until no backup Job runs any more (the list shows no Job without a completion time):", markdown.Code("suspend"))
	m.CodeBlock("sh", rb.Kubectl(fmt.Sprintf("get jobs --selector=%s=%s", manifest.LabelSite, pol.Site)))

	m.Heading(2, "3. Take the pre-upgrade backups")
	m.Para("One Job per backup CronJob, with the CronJob's pod; their restic snapshots are tagged %s and %s. Jobs of an earlier upgrade are deleted first (their names are fixed):", markdown.Code(shell.PreUpgradeTag), markdown.Code("from="+pol.Release))
	b.Reset()
	b.WriteString(rb.Kubectl(fmt.Sprintf("delete job --selector=%s=true --ignore-not-found", manifest.LabelPreUpgrade)) + "\n")
	b.WriteString(rb.Kubectl("apply --filename=pre-upgrade/") + "\n")
	var jobs []string
	for _, j := range rb.plan.Jobs {
		jobs = append(jobs, "job/"+manifest.PreUpgradeJobName(j))
	}
	b.WriteString(rb.Kubectl("wait --for=condition=complete --timeout=6h " + strings.Join(jobs, " ")))
	m.CodeBlock("sh", b.String())
	m.Para("A Job that fails never completes, so %s waits for it until its timeout: while it waits, look in a second shell. The upgrade starts only when this prints %d Jobs, each with %s under SUCCEEDED:", markdown.Code("kubectl wait"), len(jobs), markdown.Code("1"))
	m.CodeBlock("sh", rb.Kubectl(fmt.Sprintf(`get jobs --selector=%s=true --output=custom-columns=JOB:.metadata.name,SUCCEEDED:.status.succeeded,FAILED:.status.failed`, manifest.LabelPreUpgrade)))
	first := manifest.PreUpgradeJobName(rb.plan.Jobs[0])
	m.Para("A Job that failed: read its log (for the first one, %s), fix the cause, delete that Job and apply its file (%s) again. Do not upgrade without a complete pre-upgrade backup.",
		markdown.Code(rb.Kubectl("logs job/"+first+" --all-containers")), markdown.Code("pre-upgrade/"+first+".yaml"))
	if rb.plan.UsesSnapshots() {
		m.Para("Volumes backed up as CSI snapshots stay on the cluster's storage and are pruned by count (%s) like every night's: the pre-upgrade snapshot of a volume is kept for the next %d runs of its CronJob, not until the next upgrade.", markdown.Code("snapshot.keep"), pol.Snapshot.Keep-1)
	}

	m.Heading(2, "4. Upgrade openDesk")
	m.Para("As openDesk's documentation says for the release (its migration notes first). Do not resume the backups yet.")

	m.Heading(2, "5. Move the policy to the new release")
	m.Para("In the GitOps repository: set %s to the new release in %s, check it with %s, and build the site's folder again as your CI does (%s into the folder that holds this one). Merge it and let the sync apply it (resume the sync you paused). The new CronJobs know the stores of the new release.",
		markdown.Code("release"), markdown.Code(rb.policyFile()), markdown.Code("odbackup vet "+shell.Quote(rb.policyFile())), markdown.Code("odbackup build "+shell.Quote(rb.policyFile())+" -o"))

	m.Heading(2, "6. Resume the backups")
	b.Reset()
	for _, name := range all {
		b.WriteString(rb.Kubectl(fmt.Sprintf(`patch cronjob %s --type=merge --patch='{"spec":{"suspend":false}}'`, name)) + "\n")
	}
	m.CodeBlock("sh", b.String())
	m.Para("Applying the new output also sets %s back to false.", markdown.Code("suspend"))

	m.Heading(2, "When the upgrade fails: roll back")
	m.Para("Go back to the old release of openDesk (its Helm charts), then restore every app from the pre-upgrade backups, in the order of %s (data services, then identity, then the apps; %s first). In each app's runbook, take as %s the pre-upgrade snapshot of the store instead of the newest:", markdown.Link("the disaster-recovery order", "README.md"), markdown.Code("migrations-status"), markdown.Code("<snapshot>"))
	m.CodeBlock("sh", fmt.Sprintf("restic snapshots --host=%s --tag=%s --tag=from=%s", shell.Quote(pol.Site), shell.PreUpgradeTag, pol.Release))
	m.Para("(with the target's repository and password set as in %s). The restic maintenance keeps the newest pre-upgrade snapshot of every store out of the daily, weekly and monthly count, until the next upgrade's pre-upgrade Jobs replace it. Volumes come back from their CSI snapshot of the pre-upgrade run (the one whose time is that of the Job).", markdown.Link("finding the backups", "README.md#3-finding-the-backups"))
	return m.Bytes()
}
