package e2e

import (
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/e2e/stack"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// A policy gatehouse could not load is refused when it is applied, with the
// reason, by the policies webhook.
func TestBrokenPolicyIsRefusedOnApply(t *testing.T) {
	ctx := need(t)
	p := stack.ClusterPolicy("broken", []string{"nginx"}, "ci", "not a key", "")
	err := suite.CreateClusterPolicy(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "gatehouse refused the policy") || !strings.Contains(err.Error(), "spec.images[0]") {
		t.Fatalf("broken policy: %v", err)
	}
}

// The CRD schema refuses what it can describe, before gatehouse sees it.
func TestCRDSchemaRefusesUnknownMode(t *testing.T) {
	ctx := need(t)
	p := stack.ClusterPolicy("bad-mode", []string{"docker.io/library/nginx"}, "ci", suite.Cosign.PublicKey, v1alpha1.Mode("sometimes"))
	if err := suite.CreateClusterPolicy(ctx, p); err == nil || !strings.Contains(err.Error(), "spec.mode") {
		t.Fatalf("bad mode: %v", err)
	}
}
