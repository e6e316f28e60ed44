package webhook

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/verify"
)

// Metrics are the webhook's Prometheus metrics, registered on the registry
// passed to NewMetrics (never the global one). docs/metrics.md lists them.
type Metrics struct {
	decisions *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	images    *prometheus.CounterVec
	panics    prometheus.Counter
	steps     *prometheus.HistogramVec
	cache     *prometheus.CounterVec
	evictions *prometheus.CounterVec
	requests  *prometheus.CounterVec
	bytes     *prometheus.CounterVec
	inFlight  prometheus.Gauge
	hosts     registryHosts
	// byNamespace, when CountNamespaces was called, counts decisions per
	// namespace: one series per namespace, so only on request.
	byNamespace *prometheus.CounterVec
}

// CountNamespaces registers on reg a decisions counter by namespace
// (gatehouse serve --metrics-namespaces). Call it before serving.
func (m *Metrics) CountNamespaces(reg prometheus.Registerer) {
	m.byNamespace = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_admission_decisions_by_namespace_total",
		Help: "Decisions of the validating webhook by namespace, decision and reason class (only with --metrics-namespaces).",
	}, []string{"namespace", "decision", "reason"})
	reg.MustRegister(m.byNamespace)
}

// MaxRegistryLabels bounds the registry label: the first registries seen
// get their own value, the rest share "other".
const MaxRegistryLabels = 32

// registryHosts remembers which registries have their own label value.
type registryHosts struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (h *registryHosts) label(registry string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	if !h.seen[registry] && len(h.seen) >= MaxRegistryLabels {
		return "other"
	}
	h.seen[registry] = true
	return registry
}

// StepRego is the evaluation of one policy's Rego module, for one image or
// one pod: the step the webhook times itself.
const StepRego = "rego"

// Buckets for admission latencies: 1 ms to 30 s, the longest webhook timeout.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_admission_decisions_total",
			Help: "Admission decisions of the validating webhook by decision (allow, deny, warn, fail-open), operation, object kind, the policy and mode whose failure decided, and reason class.",
		}, []string{"decision", "operation", "kind", "policy", "mode", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_admission_duration_seconds",
			Help:    "Time from receiving an AdmissionReview to writing the answer, by webhook (validate, mutate).",
			Buckets: latencyBuckets,
		}, []string{"webhook"}),
		images: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_image_verifications_total",
			Help: "Image verifications by result (verified, or the reason class of the failure) and whether the verification cache answered.",
		}, []string{"result", "cached"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_admission_panics_total",
			Help: "Admission requests whose handling panicked; each was denied with reason internal.",
		}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_verification_step_duration_seconds",
			Help:    "Time of each step of a verification: resolve, signatures, attestations, config (registry fetches and checks, cache hits included), rego (one module's evaluation).",
			Buckets: latencyBuckets,
		}, []string{"step"}),
	}
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_cache_requests_total",
		Help: "Lookups in the verification cache by layer (signatures, attestations, config) and result (hit, miss).",
	}, []string{"layer", "result"})
	m.evictions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_cache_evictions_total",
		Help: "Entries the verification cache dropped to stay within --cache-size, by layer.",
	}, []string{"layer"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_registry_requests_total",
		Help: "HTTP requests to registries by registry (host[:port]; past 32 registries, \"other\") and code (2xx, 3xx, 4xx, 429, 5xx, error).",
	}, []string{"registry", "code"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_registry_response_bytes_total",
		Help: "Bytes of registry response bodies read, by registry.",
	}, []string{"registry"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gatehouse_registry_requests_in_flight",
		Help: "Registry requests sent and not yet answered.",
	})
	reg.MustRegister(m.decisions, m.duration, m.images, m.panics, m.steps, m.cache, m.evictions, m.requests, m.bytes, m.inFlight)
	return m
}

func (m *Metrics) observeDecision(d *Decision, operation, kind, namespace string, seconds float64, webhook string) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(webhook).Observe(seconds)
	if webhook != "validate" {
		return
	}
	m.decisions.WithLabelValues(d.Label(), operation, kind, d.Policy, string(d.Mode), string(d.Reason)).Inc()
	if m.byNamespace != nil {
		m.byNamespace.WithLabelValues(namespace, d.Label(), string(d.Reason)).Inc()
	}
	for _, v := range d.Images {
		if len(v.Outcomes) == 0 {
			continue // not verified: unmatched or malformed
		}
		m.images.WithLabelValues(imageResult(&v.Result), boolLabel(v.Result.Cached)).Inc()
	}
}

// imageResult is "verified" when at least one authority's signature
// verified, else the reason it did not.
func imageResult(r *verify.Result) string {
	switch {
	case r.Error != nil:
		return string(r.Error.Reason)
	case len(r.Signatures) > 0:
		return "verified"
	case r.SignaturesFound > 0:
		return string(verify.ReasonUntrustedSigner)
	}
	return string(verify.ReasonUnsigned)
}

// ObserveStep implements verify.StepObserver.
func (m *Metrics) ObserveStep(step string, d time.Duration) {
	if m != nil {
		m.steps.WithLabelValues(step).Observe(d.Seconds())
	}
}

// CacheLookup implements verify.CacheObserver.
func (m *Metrics) CacheLookup(layer string, hit bool) {
	if m != nil {
		result := "miss"
		if hit {
			result = "hit"
		}
		m.cache.WithLabelValues(layer, result).Inc()
	}
}

// CacheEvicted implements verify.CacheObserver.
func (m *Metrics) CacheEvicted(layer string) {
	if m != nil {
		m.evictions.WithLabelValues(layer).Inc()
	}
}

// RegistryRequest implements registry.Observer.
func (m *Metrics) RegistryRequest(registry, code string) {
	if m != nil {
		m.requests.WithLabelValues(m.hosts.label(registry), code).Inc()
	}
}

// RegistryBytes implements registry.Observer.
func (m *Metrics) RegistryBytes(registry string, n int) {
	if m != nil {
		m.bytes.WithLabelValues(m.hosts.label(registry)).Add(float64(n))
	}
}

// RegistryInFlight implements registry.Observer.
func (m *Metrics) RegistryInFlight(delta int) {
	if m != nil {
		m.inFlight.Add(float64(delta))
	}
}

func (m *Metrics) panicked() {
	if m != nil {
		m.panics.Inc()
	}
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
