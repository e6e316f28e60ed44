package policy

import (
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
)

const (
	testRepo   = "registry.example.com/team/web"
	testDigest = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
)

func twoAuthorityPolicy(t *testing.T, require v1alpha1.Requirement, mode v1alpha1.Mode) *Policy {
	t.Helper()
	return mustCompile(t, clusterPolicy("prod", v1alpha1.ImagePolicySpec{
		Images:      globs("registry.example.com/**"),
		Authorities: []v1alpha1.Authority{keyAuthority("ci", newKeyPEM(t)), keyAuthority("release", newKeyPEM(t))},
		Require:     require,
		Mode:        mode,
	}))
}

func result(found int, signedBy ...string) *verify.Result {
	r := &verify.Result{Image: testRepo + ":v1", Repository: testRepo, Tag: "v1", Digest: testDigest, SignaturesFound: found}
	for _, a := range signedBy {
		r.Signatures = append(r.Signatures, verify.Signature{Authority: a, Type: "cosign-key"})
	}
	return r
}

func TestEvaluate(t *testing.T) {
	const (
		ci      = "ClusterImagePolicy/prod/ci"
		release = "ClusterImagePolicy/prod/release"
		other   = "ClusterImagePolicy/other/ci" // same name, another policy
	)
	all := twoAuthorityPolicy(t, v1alpha1.RequireAll, "")
	anyOf := twoAuthorityPolicy(t, v1alpha1.RequireAny, v1alpha1.ModeWarn)
	shortKey := func(p *Policy, i int) string { return p.Authorities[i].Key.ID[:19] }
	tests := []struct {
		name       string
		policy     *Policy
		result     *verify.Result
		wantPassed bool
		wantReason verify.Reason
		want       []string // substrings of the message
		notWant    []string
	}{
		{name: "all: both signed", policy: all, result: result(2, ci, release), wantPassed: true},
		{name: "all: extra unverified signatures do not matter", policy: all, result: result(5, ci, release), wantPassed: true},
		{
			name: "all: one missing", policy: all, result: result(1, ci),
			wantReason: verify.ReasonUntrustedSigner,
			want:       []string{testDigest, "has 1 signature(s), 1 from the policy's authorities", "ClusterImagePolicy/prod requires", `"release" (key ` + shortKey(all, 1)},
			notWant:    []string{`"ci"`},
		},
		{
			name: "all: unsigned", policy: all, result: result(0),
			wantReason: verify.ReasonUnsigned,
			want: []string{testDigest + " is not signed", "ClusterImagePolicy/prod requires", `"ci" (key ` + shortKey(all, 0), `and "release" (key ` + shortKey(all, 1),
				"cosign sign --key <key> " + testRepo + "@" + testDigest},
		},
		{
			name: "all: signed by untrusted keys only", policy: all, result: result(3),
			wantReason: verify.ReasonUntrustedSigner,
			want:       []string{testDigest, "has 3 signature(s)", `"ci"`, `"release"`, "add the signer's key"},
		},
		{
			name: "all: another policy's authority of the same name does not count", policy: all, result: result(2, other, release),
			wantReason: verify.ReasonUntrustedSigner,
			want:       []string{`"ci" (key ` + shortKey(all, 0)},
		},
		{name: "any: first signed", policy: anyOf, result: result(1, ci), wantPassed: true},
		{name: "any: second signed", policy: anyOf, result: result(1, release), wantPassed: true},
		{
			name: "any: none signed", policy: anyOf, result: result(2),
			wantReason: verify.ReasonUntrustedSigner,
			want:       []string{testDigest, "ClusterImagePolicy/prod requires a valid signature from one of", `"ci"`, `"release"`},
		},
		{
			name: "any: unsigned", policy: anyOf, result: result(0),
			wantReason: verify.ReasonUnsigned,
			want:       []string{testDigest + " is not signed", "one of", "cosign sign"},
		},
		{
			name: "result error passes its reason through", policy: all,
			result:     &verify.Result{Image: testRepo + ":v1", Error: &verify.Error{Reason: verify.ReasonRegistryRateLimit, Message: "registry.example.com answered 429"}},
			wantReason: verify.ReasonRegistryRateLimit,
			want:       []string{"registry.example.com answered 429"},
		},
		{
			name: "result error wins over signatures", policy: anyOf,
			result: func() *verify.Result {
				r := result(2, ci, release)
				r.Error = &verify.Error{Reason: verify.ReasonTimeout, Message: "deadline passed"}
				return r
			}(),
			wantReason: verify.ReasonTimeout,
			want:       []string{"deadline passed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.policy.Evaluate(tt.result)
			if o.Policy != tt.policy.ID || o.Mode != tt.policy.Mode {
				t.Errorf("outcome names policy %q mode %q, want %q %q", o.Policy, o.Mode, tt.policy.ID, tt.policy.Mode)
			}
			if o.Passed != tt.wantPassed || o.Reason != tt.wantReason {
				t.Fatalf("Passed %v reason %q, want %v %q (message %q)", o.Passed, o.Reason, tt.wantPassed, tt.wantReason, o.Message)
			}
			if tt.wantPassed && o.Message != "" {
				t.Errorf("passing outcome has message %q", o.Message)
			}
			for _, w := range tt.want {
				if !strings.Contains(o.Message, w) {
					t.Errorf("message %q does not contain %q", o.Message, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(o.Message, w) {
					t.Errorf("message %q contains %q", o.Message, w)
				}
			}
		})
	}
}

func TestEvaluateModes(t *testing.T) {
	for _, mode := range []v1alpha1.Mode{v1alpha1.ModeEnforce, v1alpha1.ModeWarn, v1alpha1.ModeAudit} {
		t.Run(string(mode), func(t *testing.T) {
			p := twoAuthorityPolicy(t, v1alpha1.RequireAll, mode)
			if o := p.Evaluate(result(0)); o.Mode != mode || o.Passed {
				t.Errorf("outcome %+v, want a failure in mode %q", o, mode)
			}
		})
	}
}
