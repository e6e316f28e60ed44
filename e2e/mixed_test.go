package e2e

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/e2e/stack"
)

// Two of three signers of different kinds: a cosign v2 key, a cosign v3
// key and a Notation certificate. Any two admit; one alone is denied.
func TestThresholdMixesCosignAndNotation(t *testing.T) {
	ctx := need(t)
	p := stack.ClusterPolicy("mixed", []string{suite.Zot + "/mixed/**"}, "unused", "", "")
	authorities := []any{
		map[string]any{"name": "cosign-v2", "key": map[string]any{"data": suite.Cosign.PublicKey}},
		map[string]any{"name": "cosign-v3", "key": map[string]any{"data": suite.Cosign3.PublicKey}},
		map[string]any{"name": "notation", "notation": map[string]any{
			"trustStores":       []any{map[string]any{"type": "ca", "name": suite.Notation.Name, "certificates": suite.Notation.CertPEM}},
			"trustedIdentities": []any{suite.Notation.Subject},
		}},
	}
	if err := unstructured.SetNestedSlice(p.Object, authorities, "spec", "authorities"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(p.Object, int64(2), "spec", "threshold"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	image := func(repo string, signers ...func(ref string) error) string {
		ref, digest, err := stack.PushImageTo(ctx, suite.Zot, "mixed/"+repo+":v1")
		if err != nil {
			t.Fatal(err)
		}
		for _, sign := range signers {
			if err := sign(suite.Zot + "/mixed/" + repo + "@" + digest); err != nil {
				t.Fatal(err)
			}
		}
		return ref
	}
	v3 := func(ref string) error { return suite.Cosign3.Sign(ctx, ref) }
	notary := func(ref string) error { return suite.Notation.Sign(ctx, ref, "jws") }
	v2 := func(ref string) error { return suite.Cosign.Sign(ctx, ref) }
	v3AndNotation := image("v3-notation", v3, notary)
	v2AndV3 := image("v2-v3", v2, v3)
	notationOnly := image("notation-only", notary)
	if err := suite.WaitPolicy(ctx, notationOnly); err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string]string{"cosign v3 + notation": v3AndNotation, "cosign v2 + cosign v3": v2AndV3} {
		if _, err := createPod(ctx, newPod("mixed", ref), true); err != nil {
			t.Errorf("%s: denied: %v", name, err)
		}
	}
	_, err := createPod(ctx, newPod("mixed-one", notationOnly), true)
	wantDenied(t, err, "untrusted-signer", "2 of its 3 authorities (1 found)")
}
