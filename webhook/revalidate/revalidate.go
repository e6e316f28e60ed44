// Package revalidate judges running pods again, as the webhook would admit
// them now: after a policy, a trust root or a key changes, and periodically
// (a new CVE in a scan report, a revoked signer). It reports pods that
// would now be denied, or warned about, as metrics and Events; it never
// evicts anything. Pods admitted under audit or warn mode show up too.
package revalidate

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"gatehouse.dev/gatehouse/webhook"
)

// Check is how often Run looks for a policy change.
const Check = 15 * time.Second

// Options configure a Revalidator.
type Options struct {
	Admitter *webhook.Admitter
	// Pods lists the running pods to judge.
	Pods func(ctx context.Context) ([]corev1.Pod, error)
	// Revision returns the policy set's revision: a change starts a pass.
	Revision func() uint64
	// Policies, if set, returns the IDs of the policies a pass judges by
	// (Summary.Policies).
	Policies func() []string
	// Interval is the time between passes when nothing changes.
	Interval time.Duration
	// Skip lists namespaces never judged (those the webhook exempts).
	Skip []string
	// Report, if set, records a non-compliant pod (an Event).
	Report func(req *admissionv1.AdmissionRequest, d *webhook.Decision)
	// Passed, if set, is told what each pass found (the policy statuses).
	Passed func(Summary)
	Log    *slog.Logger
}

// Summary is what one pass found.
type Summary struct {
	// End is when the pass ended.
	End time.Time
	// Policies are the IDs of the policies the pass judged by.
	Policies []string
	// Pods are the non-compliant pods ("namespace/name", sorted) by the ID
	// of each policy they fail, whatever its mode.
	Pods map[string][]string
}

// Revalidator runs passes over the running pods.
type Revalidator struct {
	o        Options
	noncompl *prometheus.GaugeVec
	passes   prometheus.Counter
	lastPass prometheus.Gauge
}

// New returns a Revalidator whose metrics are registered on reg.
func New(o Options, reg prometheus.Registerer) *Revalidator {
	r := &Revalidator{o: o,
		noncompl: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_noncompliant_pods",
			Help: "Running pods that would now be denied (decision deny), warned about (warn) or fail an audit-mode policy (audit), by the policy and reason class of the failure, as of the last revalidation pass.",
		}, []string{"decision", "policy", "reason"}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_revalidation_passes_total",
			Help: "Revalidation passes over the running pods.",
		}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_revalidation_last_pass_timestamp_seconds",
			Help: "When the last revalidation pass ended, Unix time.",
		}),
	}
	reg.MustRegister(r.noncompl, r.passes, r.lastPass)
	return r
}

// Run makes a pass at start, whenever the policy revision changes, and
// every Interval, until ctx ends. It then clears its gauge: another
// replica, now leading, reports instead.
func (r *Revalidator) Run(ctx context.Context) {
	t := time.NewTicker(Check)
	defer t.Stop()
	defer r.noncompl.Reset()
	rev, last := r.o.Revision(), time.Time{}
	for {
		if now := r.o.Revision(); now != rev || time.Since(last) >= r.o.Interval {
			rev, last = now, time.Now()
			r.Pass(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass judges every running pod once and updates the metrics.
func (r *Revalidator) Pass(ctx context.Context) {
	pods, err := r.o.Pods(ctx)
	if err != nil {
		r.o.Log.Warn("revalidation: listing pods", "error", err)
		return
	}
	counts := map[[3]string]float64{}
	sum := Summary{Pods: map[string][]string{}}
	if r.o.Policies != nil {
		sum.Policies = r.o.Policies()
	}
	for i := range pods {
		p := &pods[i]
		if slices.Contains(r.o.Skip, p.Namespace) || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		req, err := request(p)
		if err != nil {
			continue
		}
		d := r.o.Admitter.Admit(ctx, req, false)
		if ctx.Err() != nil {
			// Cut short (leadership lost, shutdown): a cancelled fetch
			// reads as a timeout, so this verdict and the pass are void.
			return
		}
		label := d.Label()
		if label == "allow" && len(d.Audit) > 0 {
			label = "audit" // admitted, but an audit-mode policy fails
		}
		if label != "deny" && label != "warn" && label != "audit" {
			continue
		}
		counts[[3]string{label, d.Policy, string(d.Reason)}]++
		for _, id := range d.FailedPolicies() {
			sum.Pods[id] = append(sum.Pods[id], p.Namespace+"/"+p.Name)
		}
		r.o.Log.Info("revalidation: a running pod would not be admitted now", "namespace", p.Namespace, "pod", p.Name,
			"decision", label, "policy", d.Policy, "reason", d.Reason, "denials", d.Denials, "warnings", d.Warnings)
		if r.o.Report != nil {
			if label != "deny" { // the event's message is the failures, whatever the mode
				d.Denials = append(slices.Clone(d.Warnings), d.Audit...)
			}
			r.o.Report(req, &d)
		}
	}
	r.noncompl.Reset()
	for k, n := range counts {
		r.noncompl.WithLabelValues(k[0], k[1], k[2]).Set(n)
	}
	r.passes.Inc()
	r.lastPass.SetToCurrentTime()
	if r.o.Passed != nil {
		for _, pods := range sum.Pods {
			slices.Sort(pods)
		}
		sum.End = time.Now()
		r.o.Passed(sum)
	}
}

// request is the admission request of creating p as it runs now, a dry
// run: judging it has no side effects.
func request(p *corev1.Pod) (*admissionv1.AdmissionRequest, error) {
	p = p.DeepCopy()
	p.APIVersion, p.Kind = "v1", "Pod"
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	dryRun := true
	return &admissionv1.AdmissionRequest{
		UID: "gatehouse-revalidation", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Name: p.Name, Namespace: p.Namespace,
		Operation: admissionv1.Create, UserInfo: authenticationv1.UserInfo{Username: "gatehouse-revalidation"},
		Object: runtime.RawExtension{Raw: raw}, DryRun: &dryRun,
	}, nil
}
