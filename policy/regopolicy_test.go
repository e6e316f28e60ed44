package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/policy/rego"
	"gatehouse.dev/gatehouse/verify"
)

// The store compiles modules with its Rego time limit.
func TestStoreRegoTimeout(t *testing.T) {
	o := keylessPolicy(v1alpha1.KindClusterImagePolicy, "")
	o.Spec.Rego = &v1alpha1.RegoPolicy{Module: "package p\nallow if count([x | some x in numbers.range(1, 100000000)]) > 0\n"}
	s := NewStore(SourceFiles)
	s.SetRego(rego.Options{Timeout: 20 * time.Millisecond})
	if err := s.Apply(o); err != nil {
		t.Fatal(err)
	}
	s.Synced(SourceFiles)
	cluster, _ := s.Snapshot().Match("team", "registry.example.com/app")
	if len(cluster) != 1 {
		t.Fatalf("%d policies match", len(cluster))
	}
	r := verify.Result{Image: "registry.example.com/app:v1", Digest: "sha256:" + strings.Repeat("a", 64)}
	p := cluster[0]
	out := p.EvaluateRego(context.Background(), p.Evaluate(&r), &rego.Input{APIVersion: rego.InputVersion, Image: &rego.Image{Result: r}})
	if out.Passed || out.Reason != verify.ReasonRegoDeny || !strings.Contains(out.Message, "did not finish within 20ms") {
		t.Fatalf("outcome %+v", out)
	}
}

// Policies re-read from the cluster every minute include those whose
// attestation keys or Rego module live there.
func TestUsesCluster(t *testing.T) {
	inSecret := v1alpha1.Authority{Name: "builder", Key: &v1alpha1.KeyAuthority{SecretRef: &v1alpha1.SecretKeyRef{Namespace: "ns", Name: "builder"}}}
	inline := v1alpha1.Authority{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: "pem"}}
	tests := []struct {
		name string
		spec v1alpha1.ImagePolicySpec
		want bool
	}{
		{name: "inline only", spec: v1alpha1.ImagePolicySpec{Authorities: []v1alpha1.Authority{inline}}},
		{name: "signing key in a Secret", spec: v1alpha1.ImagePolicySpec{Authorities: []v1alpha1.Authority{inSecret}}, want: true},
		{name: "attestation key in a Secret", spec: v1alpha1.ImagePolicySpec{Authorities: []v1alpha1.Authority{inline},
			Attestations: []v1alpha1.AttestationRequirement{{Name: "p", PredicateType: "slsaprovenance1", Authorities: []v1alpha1.Authority{inSecret}}}}, want: true},
		{name: "module in a ConfigMap", spec: v1alpha1.ImagePolicySpec{Rego: &v1alpha1.RegoPolicy{ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "m", Key: "m.rego"}}}, want: true},
	}
	for _, tc := range tests {
		if got := usesCluster(Object{Spec: tc.spec}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The store counts refused revisions and knows when its set last changed.
func TestStoreRefusedAndChanged(t *testing.T) {
	s := NewStore(SourceFiles)
	if s.Refused() != 0 || !s.Changed().IsZero() {
		t.Fatalf("a new store: %d refused, changed %v", s.Refused(), s.Changed())
	}
	good := keylessPolicy(v1alpha1.KindClusterImagePolicy, "", v1alpha1.Authority{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: newKeyPEM(t)}})
	if err := s.Apply(good); err != nil {
		t.Fatal(err)
	}
	changed := s.Changed()
	bad := good
	bad.Spec.Rego = &v1alpha1.RegoPolicy{Module: "package p\nallow if {"}
	if err := s.Apply(bad); err == nil {
		t.Fatal("a module that does not parse was applied")
	}
	if s.Refused() != 1 || changed.IsZero() || !s.Changed().Equal(changed) {
		t.Fatalf("%d refused, changed %v then %v", s.Refused(), changed, s.Changed())
	}
}
