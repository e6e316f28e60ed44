package revalidate_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
	"gatehouse.dev/gatehouse/webhook"
	"gatehouse.dev/gatehouse/webhook/revalidate"
)

func pod(ns, name, image string, phase corev1.PodPhase) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}, Status: corev1.PodStatus{Phase: phase}}
}

// admitter decides as the webhook does, with store's policies.
func admitter(t *testing.T, store *policy.Store) *webhook.Admitter {
	t.Helper()
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	a, err := webhook.NewAdmitter(webhook.Config{Verifier: v, Policies: store, Unmatched: webhook.Deny, InfraFailure: webhook.Deny,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A pass judges the running pods as the webhook would admit them now, and
// reports those it would deny, by policy and reason; skipped namespaces and
// finished pods are not judged. Nothing is evicted: the list is read only.
func TestPass(t *testing.T) {
	host := verifytest.Registry(t)
	key, rotated := verifytest.NewKey(t), verifytest.NewKey(t)
	signed := verifytest.PushImage(t, host+"/app/signed:v1")
	verifytest.Sign(t, host+"/app/signed", signed, key, verifytest.Payload(host+"/app/signed", signed))
	unsigned := verifytest.PushImage(t, host+"/app/unsigned:v1")
	store := policy.NewStore()
	apply := func(pem string) {
		if err := store.Apply(policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "ci", Spec: v1alpha1.ImagePolicySpec{
			Images: []v1alpha1.ImageGlob{{Glob: host + "/**"}}, Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: pem}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	apply(key.PublicPEM)
	a := admitter(t, store)
	pods := []corev1.Pod{
		pod("team", "signed", host+"/app/signed@"+signed.String(), corev1.PodRunning),
		pod("team", "unsigned", host+"/app/unsigned@"+unsigned.String(), corev1.PodRunning),
		pod("kube-system", "exempt", host+"/app/unsigned@"+unsigned.String(), corev1.PodRunning),
		pod("team", "done", host+"/app/unsigned@"+unsigned.String(), corev1.PodSucceeded),
	}
	var reported []string
	var passes []revalidate.Summary
	reg := prometheus.NewRegistry()
	r := revalidate.New(revalidate.Options{
		Admitter: a, Pods: func(context.Context) ([]corev1.Pod, error) { return pods, nil },
		Revision: func() uint64 { return store.Snapshot().Revision }, Policies: func() []string { return store.Snapshot().IDs() },
		Interval: time.Hour, Skip: []string{"kube-system"},
		Report: func(req *admissionv1.AdmissionRequest, d *webhook.Decision) {
			reported = append(reported, req.Name+"/"+string(d.Reason))
		},
		Passed: func(s revalidate.Summary) { passes = append(passes, s) },
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, reg)
	r.Pass(context.Background())
	gauge := func(decision, reason string) float64 {
		n, err := testutil.GatherAndCount(reg, "gatehouse_noncompliant_pods")
		if err != nil || n == 0 {
			return 0
		}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				if mf.GetName() == "gatehouse_noncompliant_pods" && l["decision"] == decision && l["policy"] == "ClusterImagePolicy/ci" && l["reason"] == reason {
					return m.GetGauge().GetValue()
				}
			}
		}
		return 0
	}
	if got := gauge("deny", "unsigned"); got != 1 || len(reported) != 1 || reported[0] != "unsigned/unsigned" {
		t.Fatalf("after the first pass: %v non-compliant, reported %v", got, reported)
	}
	// The key rotates: the signed pod is now signed by an untrusted key.
	apply(rotated.PublicPEM)
	r.Pass(context.Background())
	if got := gauge("deny", "untrusted-signer"); got != 1 {
		t.Fatalf("after the key rotation: %v pods untrusted-signer", got)
	}
	// Each pass tells which pods each policy fails, for the policy status.
	want := [][]string{{"team/unsigned"}, {"team/signed", "team/unsigned"}}
	if len(passes) != len(want) {
		t.Fatalf("%d passes reported, want %d", len(passes), len(want))
	}
	for i, p := range passes {
		if got := p.Pods["ClusterImagePolicy/ci"]; len(p.Pods) != 1 || !slices.Equal(got, want[i]) || p.End.IsZero() || !slices.Equal(p.Policies, []string{"ClusterImagePolicy/ci"}) {
			t.Errorf("pass %d: %+v, want ClusterImagePolicy/ci failing %v", i, p, want[i])
		}
	}
}

// Pods that only fail an audit-mode policy are reported too, as audit.
func TestPassReportsAuditMode(t *testing.T) {
	host := verifytest.Registry(t)
	key := verifytest.NewKey(t)
	unsigned := verifytest.PushImage(t, host+"/app/unsigned:v1")
	store := policy.NewStore()
	if err := store.Apply(policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "ci", Spec: v1alpha1.ImagePolicySpec{Mode: v1alpha1.ModeAudit,
		Images: []v1alpha1.ImageGlob{{Glob: host + "/**"}}, Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: key.PublicPEM}}}}}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r := revalidate.New(revalidate.Options{Admitter: admitter(t, store), Revision: func() uint64 { return 0 }, Interval: time.Hour,
		Pods: func(context.Context) ([]corev1.Pod, error) {
			return []corev1.Pod{pod("team", "audited", host+"/app/unsigned@"+unsigned.String(), corev1.PodRunning)}, nil
		}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, reg)
	r.Pass(context.Background())
	want := `
# HELP gatehouse_noncompliant_pods Running pods that would now be denied (decision deny), warned about (warn) or fail an audit-mode policy (audit), by the policy and reason class of the failure, as of the last revalidation pass.
# TYPE gatehouse_noncompliant_pods gauge
gatehouse_noncompliant_pods{decision="audit",policy="ClusterImagePolicy/ci",reason="unsigned"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_noncompliant_pods"); err != nil {
		t.Fatal(err)
	}
}

// A pod counts for every policy it fails, not only the one that decided:
// an audit-mode policy tried beside an enforcing one sees its pods.
func TestPassCountsEveryFailedPolicy(t *testing.T) {
	host := verifytest.Registry(t)
	key := verifytest.NewKey(t)
	unsigned := verifytest.PushImage(t, host+"/app/unsigned:v1")
	store := policy.NewStore()
	for name, mode := range map[string]v1alpha1.Mode{"ci": v1alpha1.ModeEnforce, "trial": v1alpha1.ModeAudit} {
		if err := store.Apply(policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: name, Spec: v1alpha1.ImagePolicySpec{Mode: mode,
			Images: []v1alpha1.ImageGlob{{Glob: host + "/**"}}, Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: key.PublicPEM}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	var got revalidate.Summary
	r := revalidate.New(revalidate.Options{Admitter: admitter(t, store), Revision: func() uint64 { return 0 }, Interval: time.Hour,
		Policies: func() []string { return store.Snapshot().IDs() },
		Pods: func(context.Context) ([]corev1.Pod, error) {
			return []corev1.Pod{pod("team", "app", host+"/app/unsigned@"+unsigned.String(), corev1.PodRunning)}, nil
		},
		Passed: func(s revalidate.Summary) { got = s },
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil))}, prometheus.NewRegistry())
	r.Pass(context.Background())
	for _, id := range []string{"ClusterImagePolicy/ci", "ClusterImagePolicy/trial"} {
		if !slices.Equal(got.Pods[id], []string{"team/app"}) {
			t.Errorf("%s: pods %v, want team/app (all: %v)", id, got.Pods[id], got.Pods)
		}
	}
}

// A pass cut short (leadership lost, shutdown) reports nothing: a
// cancelled fetch would read as a timeout and every pod as denied.
func TestPassCutShort(t *testing.T) {
	host := verifytest.Registry(t)
	key := verifytest.NewKey(t)
	unsigned := verifytest.PushImage(t, host+"/app/unsigned:v1")
	store := policy.NewStore()
	if err := store.Apply(policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "ci", Spec: v1alpha1.ImagePolicySpec{
		Images: []v1alpha1.ImageGlob{{Glob: host + "/**"}}, Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: key.PublicPEM}}}}}); err != nil {
		t.Fatal(err)
	}
	var reported, passed int
	r := revalidate.New(revalidate.Options{Admitter: admitter(t, store), Revision: func() uint64 { return 0 }, Interval: time.Hour,
		Pods: func(context.Context) ([]corev1.Pod, error) {
			return []corev1.Pod{pod("team", "app", host+"/app/unsigned@"+unsigned.String(), corev1.PodRunning)}, nil
		},
		Report: func(*admissionv1.AdmissionRequest, *webhook.Decision) { reported++ },
		Passed: func(revalidate.Summary) { passed++ },
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil))}, prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Pass(ctx)
	if reported != 0 || passed != 0 {
		t.Fatalf("a cancelled pass reported %d pods and %d passes", reported, passed)
	}
	r.Pass(context.Background())
	if reported != 1 || passed != 1 {
		t.Fatalf("a whole pass reported %d pods and %d passes, want 1 and 1", reported, passed)
	}
}
