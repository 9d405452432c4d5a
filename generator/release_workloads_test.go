package generator_test

import (
	"os"
	"strings"
	"testing"

	"github.com/odbackup/odbackup/generator"
	"github.com/odbackup/odbackup/schema"
)

// elementRunbook builds the EE example at another openDesk release and
// returns its Element runbook.
func elementRunbook(t *testing.T, release string) string {
	t.Helper()
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../examples/ee-full/site.cue")
	if err != nil {
		t.Fatal(err)
	}
	const pin = `release: "v1.18.1"`
	if !strings.Contains(string(src), pin) {
		t.Fatalf("the EE example no longer says %s", pin)
	}
	policy := strings.Replace(string(src), pin, `release: "`+release+`"`, 1)
	site, err := s.Evaluate("site.cue", []byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := generator.Generate(site)
	if err != nil {
		t.Fatal(err)
	}
	return string(tree["runbooks/element.md"])
}

// TestSynapseRestoreStopsTheMediaWriterOfItsRelease proves the restore of
// Synapse's media volume stops the process that writes it: up to v1.18 the
// opendesk-synapse StatefulSet, from v1.19 (the Matrix stack chart) the
// media-repository process element-synapse-media-repository.
func TestSynapseRestoreStopsTheMediaWriterOfItsRelease(t *testing.T) {
	cases := []struct {
		release, stops, notStops, claim string
	}{
		{"v1.18.1", "statefulset/opendesk-synapse", "statefulset/element-synapse-media-repository", "media-opendesk-synapse-0"},
		{"v1.19.0", "statefulset/element-synapse-media-repository", "statefulset/opendesk-synapse", "element-synapse-media"},
	}
	for _, c := range cases {
		t.Run(c.release, func(t *testing.T) {
			rb := elementRunbook(t, c.release)
			if scale := "scale " + c.stops + " --replicas=0"; !strings.Contains(rb, scale) {
				t.Errorf("the runbook does not run %q", scale)
			}
			if scale := "scale " + c.notStops + " --replicas=0"; strings.Contains(rb, scale) {
				t.Errorf("the runbook runs %q, a workload release %s does not run", scale, c.release)
			}
			if !strings.Contains(rb, "volume "+c.claim) {
				t.Errorf("the runbook does not restore the volume %s", c.claim)
			}
		})
	}
}
