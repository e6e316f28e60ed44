package e2e

import (
	"testing"

	"gatehouse.dev/gatehouse/e2e/stack"
)

// Images signed by the real cosign v3: its default sigstore bundles, found
// through zot's referrers API and through the referrers tag on
// docker-registry, and its legacy format (--new-bundle-format=false).
func TestCosignV3Signatures(t *testing.T) {
	ctx := need(t)
	type image struct{ ref, digest string }
	push := func(host, repo string, signArgs ...string) image {
		ref, digest, err := stack.PushImageTo(ctx, host, repo+":v1")
		if err != nil {
			t.Fatal(err)
		}
		if signArgs != nil {
			if err := suite.Cosign3.Sign(ctx, host+"/"+repo+"@"+digest, signArgs[1:]...); err != nil {
				t.Fatal(err)
			}
		}
		return image{ref, digest}
	}
	sign := []string{"sign"}
	referrers := push(suite.Zot, "v3/referrers", sign...)
	fallback := push(suite.Registry, "v3/fallback", sign...)
	legacy := push(suite.Registry, "v3/legacy", "sign", "--new-bundle-format=false")
	unsigned := push(suite.Zot, "v3/unsigned")

	trusting := stack.ClusterPolicy("cosign3", []string{suite.Zot + "/v3/**", suite.Registry + "/v3/**"}, "ci", suite.Cosign3.PublicKey, "")
	if err := suite.CreateClusterPolicy(ctx, trusting); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, unsigned.ref); err != nil {
		t.Fatal(err)
	}
	for name, im := range map[string]image{"bundle via referrers API": referrers, "bundle via tag fallback": fallback, "legacy format": legacy} {
		if _, err := createPod(ctx, newPod("v3", im.ref), true); err != nil {
			t.Errorf("%s: signed image denied: %v", name, err)
		}
	}
	_, err := createPod(ctx, newPod("v3-unsigned", unsigned.ref), true)
	wantDenied(t, err, "unsigned", unsigned.digest)
}

// The same bundle is refused when the policy trusts another key.
func TestCosignV3BundleFromAnUntrustedKey(t *testing.T) {
	ctx := need(t)
	ref, digest, err := stack.PushImageTo(ctx, suite.Zot, "v3other/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.Cosign3.Sign(ctx, suite.Zot+"/v3other/app@"+digest); err != nil {
		t.Fatal(err)
	}
	p := stack.ClusterPolicy("cosign3-other-key", []string{suite.Zot + "/v3other/**"}, "ci", suite.Cosign.PublicKey, "")
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, ref); err != nil {
		t.Fatal(err)
	}
	_, err = createPod(ctx, newPod("v3-other", ref), true)
	wantDenied(t, err, "untrusted-signer", "has 1 signature(s), none from a trusted key")
}
