package webhook

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
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

// Registry requests are counted by registry and status class, with the
// bytes read; nothing stays in flight.
func TestRegistryMetrics(t *testing.T) {
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }))
	defer limited.Close()
	host := strings.TrimPrefix(limited.URL, "http://")
	f := newFixture(t, func(c *Config) {
		v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{Observer: c.Metrics})})
		if err != nil {
			t.Fatal(err)
		}
		c.Verifier = v
	}, func(s *v1alpha1.ImagePolicySpec) { s.Images = append(s.Images, v1alpha1.ImageGlob{Glob: host + "/**"}) })
	if resp := f.validate(t, pod("p", f.signed), reviewOpts{}); !resp.Allowed {
		t.Fatalf("denied: %s", msg(resp))
	}
	m := f.admitter.cfg.Metrics
	if got := testutil.ToFloat64(m.requests.WithLabelValues(f.host, "2xx")); got == 0 {
		t.Error("no 2xx request counted")
	}
	if got := testutil.ToFloat64(m.bytes.WithLabelValues(f.host)); got == 0 {
		t.Error("no bytes counted")
	}
	if resp := f.validate(t, pod("p", host+"/app/x:v1"), reviewOpts{}); resp.Allowed || !strings.Contains(msg(resp), "registry-rate-limited") {
		t.Fatalf("a rate-limiting registry: allowed %v, %s", resp.Allowed, msg(resp))
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues(host, "429")); got == 0 {
		t.Error("no 429 counted")
	}
	if got := testutil.ToFloat64(m.inFlight); got != 0 {
		t.Errorf("%v requests left in flight", got)
	}
}

// The registry label is bounded: past MaxRegistryLabels registries, the
// others share "other", and those seen first keep their own.
func TestRegistryLabelBounded(t *testing.T) {
	var h registryHosts
	for i := range MaxRegistryLabels {
		if got := h.label(fmt.Sprintf("r%d.example", i)); got != fmt.Sprintf("r%d.example", i) {
			t.Fatalf("registry %d labelled %q", i, got)
		}
	}
	if got := h.label("late.example"); got != "other" {
		t.Fatalf("registry past the bound labelled %q", got)
	}
	if got := h.label("r0.example"); got != "r0.example" {
		t.Fatalf("a registry seen first labelled %q", got)
	}
}

// With CountNamespaces, decisions are also counted by namespace.
func TestDecisionsByNamespace(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Metrics.CountNamespaces(prometheus.NewRegistry()) }, nil)
	f.validate(t, pod("p", f.unsigned), reviewOpts{namespace: "payments"})
	if got := testutil.ToFloat64(f.admitter.cfg.Metrics.byNamespace.WithLabelValues("payments", "deny", "unsigned")); got != 1 {
		t.Fatalf("payments/deny/unsigned = %v", got)
	}
}
