package e2e

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/e2e/stack"
)

const regoRules = `package e2e.rules

default allow := false

allow if input.request.namespace == "e2e"

deny contains msg if {
	input.image.tag == "latest"
	msg := sprintf("%s: tag latest is mutable; deploy a release tag", [input.image.container])
}
`

// A policy's Rego module, kept in a ConfigMap, judges cosign-signed images
// after their signatures pass: a release tag is admitted, latest is denied
// with the module's message verbatim, and the same module in warn mode
// admits. A module that does not compile is refused when applied.
func TestRegoPolicy(t *testing.T) {
	ctx := need(t)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "rego-rules", Namespace: stack.SystemNamespace},
		Data:       map[string]string{"rules.rego": regoRules},
	}
	if _, err := suite.Client.CoreV1().ConfigMaps(stack.SystemNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	signed := func(repoTag string) string {
		ref, digest, err := suite.PushImage(ctx, repoTag)
		if err != nil {
			t.Fatal(err)
		}
		if err := suite.Cosign.Sign(ctx, suite.Registry+"/"+strings.Split(repoTag, ":")[0]+"@"+digest); err != nil {
			t.Fatal(err)
		}
		return ref
	}
	release, latest, warned := signed("rego/app:v1"), signed("rego/app:latest"), signed("rego-warn/app:latest")
	policy := func(name, glob, mode string, rego map[string]any) *unstructured.Unstructured {
		p := stack.ClusterPolicy(name, []string{suite.Registry + glob}, "ci", suite.Cosign.PublicKey, "")
		if mode != "" {
			_ = unstructured.SetNestedField(p.Object, mode, "spec", "mode")
		}
		_ = unstructured.SetNestedMap(p.Object, rego, "spec", "rego")
		return p
	}
	fromConfigMap := map[string]any{"configMapRef": map[string]any{"namespace": stack.SystemNamespace, "name": "rego-rules", "key": "rules.rego"}}
	for _, p := range []*unstructured.Unstructured{
		policy("rego", "/rego/**", "", fromConfigMap),
		policy("rego-warn", "/rego-warn/**", "warn", map[string]any{"module": regoRules}),
	} {
		if err := suite.CreateClusterPolicy(ctx, p); err != nil {
			t.Fatalf("creating %s: %v", p.GetName(), err)
		}
	}
	if err := suite.WaitPolicy(ctx, warned); err != nil {
		t.Fatal(err)
	}
	if _, err := createPod(ctx, newPod("rego-release", release), true); err != nil {
		t.Errorf("release tag denied: %v", err)
	}
	_, err := createPod(ctx, newPod("rego-latest", latest), true)
	wantDenied(t, err, `(containers "ca"): rego-deny: ClusterImagePolicy/rego: ca: tag latest is mutable; deploy a release tag`)
	if _, err := createPod(ctx, newPod("rego-warned", warned), true); err != nil {
		t.Errorf("warn mode denied: %v", err)
	}

	broken := policy("rego-broken", "/rego-broken/**", "", map[string]any{"module": "package broken\nallow if {"})
	err = suite.CreateClusterPolicy(ctx, broken)
	if err == nil || !strings.Contains(err.Error(), "gatehouse refused the policy") || !strings.Contains(err.Error(), "spec.rego: ClusterImagePolicy/rego-broken.rego:") {
		t.Fatalf("a module that does not parse: %v", err)
	}
	noAllow := policy("rego-no-allow", "/rego-no-allow/**", "", map[string]any{"module": "package x\ndeny contains \"no\" if true\n"})
	err = suite.CreateClusterPolicy(ctx, noAllow)
	if err == nil || !strings.Contains(err.Error(), "defines no allow rule") {
		t.Fatalf("a module without allow: %v", err)
	}
}
