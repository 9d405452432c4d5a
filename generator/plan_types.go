package generator

import (
	"github.com/odbackup/odbackup/generator/kinds"
	"github.com/odbackup/odbackup/generator/plan"
	"github.com/odbackup/odbackup/schema"
)

// The plan's types, under the names the CLI, e2e and bench use.
type (
	Plan           = plan.Plan
	Job            = plan.Job
	Step           = plan.Step
	MaintenanceJob = plan.MaintenanceJob
	Method         = plan.Method
	Kept           = plan.Kept
)

// NewPlan decides, for every store the site backs up, its method, job,
// schedule, retention and target.
func NewPlan(site *schema.Site) (*Plan, error) { return plan.New(site, kinds.PlanKinds(kinds.All())) }

var dnsName = plan.DNSName
