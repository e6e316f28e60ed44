package webhook

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// multiArchImages pushes three indexes (amd64, arm64 and a buildx-style
// attestation entry): one with only the index signed, one with only the
// platform images signed, one with only amd64 signed.
func multiArchImages(t *testing.T, f *fixture) (indexSigned, childrenSigned, amd64Only string) {
	t.Helper()
	push := func(repo string, signIndex bool, signChildren ...string) string {
		d, children := verifytest.PushIndex(t, f.host+"/"+repo+":v1", "linux/amd64", "linux/arm64", "unknown/unknown")
		sign := func(h v1.Hash) { verifytest.Sign(t, f.host+"/"+repo, h, f.key, verifytest.Payload(f.host+"/"+repo, h)) }
		if signIndex {
			sign(d)
		}
		for _, p := range signChildren {
			sign(children[p])
		}
		return f.host + "/" + repo + ":v1"
	}
	return push("multi/index", true), push("multi/children", false, "linux/amd64", "linux/arm64"), push("multi/amd64", false, "linux/amd64")
}

func TestMultiArch(t *testing.T) {
	for _, mode := range []v1alpha1.MultiArch{"", v1alpha1.MultiArchPlatforms, v1alpha1.MultiArchBoth} {
		f := newFixture(t, nil, func(s *v1alpha1.ImagePolicySpec) { s.MultiArch = mode })
		indexSigned, childrenSigned, amd64Only := multiArchImages(t, f)
		onAMD64 := pod("p", amd64Only)
		onAMD64.Spec.NodeSelector = map[string]string{"kubernetes.io/arch": "amd64"}
		tests := []struct {
			name        string
			mode        v1alpha1.MultiArch
			obj         any
			wantAllowed bool
			wantInMsg   string
		}{
			{name: "index signed", mode: "", obj: pod("p", indexSigned), wantAllowed: true},
			{name: "only children signed: hint at platforms", mode: "", obj: pod("p", childrenSigned), wantInMsg: "set multiArch: platforms"},
			{name: "children signed", mode: v1alpha1.MultiArchPlatforms, obj: pod("p", childrenSigned), wantAllowed: true},
			{name: "only the index signed: hint at --recursive", mode: v1alpha1.MultiArchPlatforms, obj: pod("p", indexSigned), wantInMsg: "cosign sign --recursive"},
			{name: "arm64 unsigned, pod can run on arm64", mode: v1alpha1.MultiArchPlatforms, obj: pod("p", amd64Only), wantInMsg: "platform image linux/arm64"},
			{name: "arm64 unsigned, pod pinned to amd64 nodes", mode: v1alpha1.MultiArchPlatforms, obj: onAMD64, wantAllowed: true},
			{name: "both: index alone is not enough", mode: v1alpha1.MultiArchBoth, obj: pod("p", indexSigned), wantInMsg: "platform image linux/amd64"},
			{name: "both: children alone are not enough", mode: v1alpha1.MultiArchBoth, obj: pod("p", childrenSigned), wantInMsg: "is not signed"},
		}
		for _, tc := range tests {
			if tc.mode != mode {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				resp := f.validate(t, tc.obj, reviewOpts{})
				if resp.Allowed != tc.wantAllowed || !strings.Contains(msg(resp), tc.wantInMsg) {
					t.Fatalf("allowed %v, message %q; want %v and %q", resp.Allowed, msg(resp), tc.wantAllowed, tc.wantInMsg)
				}
			})
		}
	}
}

// An index with no platform image the pod can run is refused, whatever is
// signed: the pod could never start, and the policy could not be judged.
func TestMultiArchNoRunnablePlatform(t *testing.T) {
	f := newFixture(t, nil, func(s *v1alpha1.ImagePolicySpec) { s.MultiArch = v1alpha1.MultiArchPlatforms })
	_, _, amd64Only := multiArchImages(t, f)
	p := pod("p", amd64Only)
	p.Spec.NodeSelector = map[string]string{"kubernetes.io/arch": "s390x"}
	resp := f.validate(t, p, reviewOpts{})
	if resp.Allowed || !strings.Contains(msg(resp), "no platform image the pod can run (linux/s390x)") {
		t.Fatalf("allowed %v, message %q", resp.Allowed, msg(resp))
	}
}
