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
	s.SetRegoTimeout(20 * time.Millisecond)
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
