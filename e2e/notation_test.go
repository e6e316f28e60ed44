package e2e

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/e2e/stack"
)

// notationPolicy trusts the stack's notation certificate for globs, pinned
// to identity.
func notationPolicy(name string, globs []string, identity string) *unstructured.Unstructured {
	p := stack.ClusterPolicy(name, globs, "unused", "", "")
	authorities := []any{map[string]any{"name": "release", "notation": map[string]any{
		"trustStores":       []any{map[string]any{"type": "ca", "name": suite.Notation.Name, "certificates": suite.Notation.CertPEM}},
		"trustedIdentities": []any{identity},
	}}}
	_ = unstructured.SetNestedSlice(p.Object, authorities, "spec", "authorities")
	return p
}

// Images signed by the real notation CLI: a JWS signature found through
// zot's referrers API, a COSE one through the referrers tag on
// docker-registry. Admitted when the policy pins the signer's identity,
// denied when it pins another.
func TestNotationSignatures(t *testing.T) {
	ctx := need(t)
	sign := func(host, repo, envelope string) string {
		ref, digest, err := stack.PushImageTo(ctx, host, repo+":v1")
		if err != nil {
			t.Fatal(err)
		}
		if err := suite.Notation.Sign(ctx, host+"/"+repo+"@"+digest, envelope); err != nil {
			t.Fatal(err)
		}
		return ref
	}
	jws := sign(suite.Zot, "notation/jws", "jws")
	cose := sign(suite.Registry, "notation/cose", "cose")
	other := sign(suite.Zot, "notation-other/app", "jws")
	unsigned, _, err := stack.PushImageTo(ctx, suite.Zot, "notation/unsigned:v1")
	if err != nil {
		t.Fatal(err)
	}
	trusting := notationPolicy("notation", []string{suite.Zot + "/notation/**", suite.Registry + "/notation/**"}, suite.Notation.Subject)
	pinnedElsewhere := notationPolicy("notation-other", []string{suite.Zot + "/notation-other/**"}, "x509.subject: CN=someone-else,O=Notary,L=Seattle,ST=WA,C=US")
	for _, p := range []*unstructured.Unstructured{trusting, pinnedElsewhere} {
		if err := suite.CreateClusterPolicy(ctx, p); err != nil {
			t.Fatalf("creating %s: %v", p.GetName(), err)
		}
	}
	if err := suite.WaitPolicy(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, unsigned); err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string]string{"jws via referrers API": jws, "cose via tag fallback": cose} {
		if _, err := createPod(ctx, newPod("notation", ref), true); err != nil {
			t.Errorf("%s: signed image denied: %v", name, err)
		}
	}
	_, err = createPod(ctx, newPod("notation-unsigned", unsigned), true)
	wantDenied(t, err, "unsigned")
	_, err = createPod(ctx, newPod("notation-other", other), true)
	wantDenied(t, err, "untrusted-signer", "CN=someone-else")
}
