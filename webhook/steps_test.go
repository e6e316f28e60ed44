package webhook

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
)

// Each step of a verification is timed: the registry steps by the
// verifier, the Rego evaluation by the webhook.
func TestStepDurations(t *testing.T) {
	spec, attestSigned := supplyChain(t)
	f := newFixture(t, func(c *Config) {
		v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{}), Observer: c.Metrics})
		if err != nil {
			t.Fatal(err)
		}
		c.Verifier = v
	}, spec)
	attestSigned(f)
	if resp := f.validate(t, pod("p", f.signed), reviewOpts{}); !resp.Allowed {
		t.Fatalf("denied: %s", msg(resp))
	}
	families, err := f.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, mf := range families {
		if mf.GetName() != "gatehouse_verification_step_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			counts[label(m, "step")] = m.GetHistogram().GetSampleCount()
		}
	}
	for _, step := range append(verify.Steps, StepRego) {
		if counts[step] == 0 {
			t.Errorf("step %s not observed (observed: %v)", step, counts)
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
