package webhook

import (
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// An ImagePolicy adds requirements for its namespace only, and cannot make
// an image that no cluster policy covers acceptable.
func TestImagePolicyOnlyAddsRequirements(t *testing.T) {
	f := newFixture(t, nil, nil)
	security := verifytest.NewKey(t) // a second signer the team demands; it signed nothing
	add := func(name, glob string) {
		err := f.admitter.cfg.Policies.Apply(policy.Object{Kind: v1alpha1.KindImagePolicy, Namespace: "team", Name: name, Spec: v1alpha1.ImagePolicySpec{
			Images:      []v1alpha1.ImageGlob{{Glob: glob}},
			Authorities: []v1alpha1.Authority{{Name: "security", Key: &v1alpha1.KeyAuthority{Data: security.PublicPEM}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	add("needs-security", f.host+"/app/**")
	add("covers-nginx", "docker.io/library/nginx")

	signed := pod("p", f.signed+"@"+f.signedDigest)
	resp := f.validate(t, signed, reviewOpts{})
	if resp.Allowed || !strings.Contains(msg(resp), "ImagePolicy/team/needs-security") {
		t.Fatalf("namespace's extra requirement ignored: allowed %v %q", resp.Allowed, msg(resp))
	}
	other := signed.DeepCopy()
	other.Namespace = "elsewhere"
	rev := review(t, other, reviewOpts{})
	rev.Request.Namespace = "elsewhere"
	if resp := f.post(t, PathValidate, rev); !resp.Allowed {
		t.Fatalf("another namespace got the team's requirement: %q", msg(resp))
	}
	resp = f.validate(t, pod("p", "nginx:1.27"), reviewOpts{})
	if resp.Allowed || !strings.Contains(msg(resp), "unmatched-image") {
		t.Fatalf("an ImagePolicy relaxed the unmatched default: allowed %v %q", resp.Allowed, msg(resp))
	}
}
