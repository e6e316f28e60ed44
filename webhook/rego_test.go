package webhook

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// The module sees the request, the object and the verified image, and its
// messages come back verbatim; it runs only once the signatures pass.
const teamRules = `package team

default allow := false

allow if input.request.namespace == "team"

deny contains msg if {
	input.image.tag == "latest"
	msg := sprintf("%s uses latest", [input.image.container])
}

deny contains "only the release team may run debug pods" if {
	input.object.metadata.labels.debug == "true"
	not "release" in input.request.user.groups
}

warn contains sprintf("%s by %s verified", [input.image.digest, input.image.signatures[0].keyID]) if input.request.dryRun
`

func TestRego(t *testing.T) {
	f := newFixture(t, nil, func(s *v1alpha1.ImagePolicySpec) { s.Rego = &v1alpha1.RegoPolicy{Module: teamRules} })
	debug := pod("p", f.signed+"@"+f.signedDigest)
	debug.Labels = map[string]string{"debug": "true"}
	otherNS := pod("p", f.signed+"@"+f.signedDigest)
	otherNS.Namespace = "other"
	tests := []struct {
		name        string
		obj         any
		opts        reviewOpts
		wantAllowed bool
		wantMsg     string
		wantWarning string
	}{
		{name: "allowed", obj: pod("p", f.signed+"@"+f.signedDigest), wantAllowed: true},
		{name: "warn messages reach the client", obj: pod("p", f.signed+"@"+f.signedDigest), opts: reviewOpts{dryRun: true}, wantAllowed: true,
			wantWarning: f.signedDigest + " by " + keyID(t, f.key.PublicPEM) + " verified"},
		{name: "allow false", obj: otherNS, opts: reviewOpts{namespace: "other"}, wantMsg: "rego-deny: ClusterImagePolicy/ci's Rego module does not allow the image (allow is false)"},
		{name: "deny message verbatim", obj: debug, wantMsg: `(containers "c0"): rego-deny: ClusterImagePolicy/ci: only the release team may run debug pods`},
		{name: "unsigned: the signature failure, not the module", obj: pod("p", f.unsigned), wantMsg: ": unsigned: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.validate(t, tc.obj, tc.opts)
			if resp.Allowed != tc.wantAllowed || (tc.wantMsg != "" && !strings.Contains(msg(resp), tc.wantMsg)) {
				t.Fatalf("allowed %v message %q; want allowed %v and %q", resp.Allowed, msg(resp), tc.wantAllowed, tc.wantMsg)
			}
			if tc.wantWarning != "" && !strings.Contains(strings.Join(resp.Warnings, "\n"), tc.wantWarning) {
				t.Fatalf("warnings %q lack %q", resp.Warnings, tc.wantWarning)
			}
		})
	}
	if got := testutil.ToFloat64(f.admitter.cfg.Metrics.decisions.WithLabelValues("deny", string(admissionv1.Create), "Pod", "ClusterImagePolicy/ci", "enforce", "rego-deny")); got != 2 {
		t.Fatalf("rego-deny decisions = %v, want 2", got)
	}
}

func keyID(t *testing.T, pem string) string {
	t.Helper()
	k, err := verify.ParseKey(pem, "")
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

// A module-only policy (no authorities) judges images without signatures,
// and a module that reaches no decision denies.
func TestRegoOnly(t *testing.T) {
	f := newFixture(t, nil, func(s *v1alpha1.ImagePolicySpec) {
		s.Authorities = nil
		s.Rego = &v1alpha1.RegoPolicy{Module: "package only\nallow if input.image.pinned\n"}
	})
	if resp := f.validate(t, pod("p", f.unsigned), reviewOpts{}); resp.Allowed || !strings.Contains(msg(resp), "reached no decision, which denies: allow is undefined") {
		t.Fatalf("unpinned: allowed %v, message %q", resp.Allowed, msg(resp))
	}
	if resp := f.validate(t, pod("p", f.signed+"@"+f.signedDigest), reviewOpts{}); !resp.Allowed {
		t.Fatalf("pinned: %q", msg(resp))
	}
}

// A pod-scoped module runs once per request over every image the policy
// matches; its denial names the pod, not an image.
func TestRegoPodScope(t *testing.T) {
	const module = `package pod

default allow := false

allow if count(input.images) <= 2

deny contains sprintf("%d images from %d containers", [count(input.images), count({i.container | some i in input.images})]) if count(input.images) > 2

warn contains sprintf("pod checked once: %s", [concat(",", sort([i.container | some i in input.images]))])
`
	f := newFixture(t, nil, func(s *v1alpha1.ImagePolicySpec) {
		s.Rego = &v1alpha1.RegoPolicy{Module: module, Scope: v1alpha1.RegoScopePod}
	})
	pinned := f.signed + "@" + f.signedDigest
	tests := []struct {
		name        string
		images      []string
		wantAllowed bool
		wantMsg     string
		wantWarning string
	}{
		{name: "two images", images: []string{pinned, pinned}, wantAllowed: true, wantWarning: "pod: ClusterImagePolicy/ci: pod checked once: c0,c1"},
		{name: "three images", images: []string{pinned, pinned, pinned}, wantMsg: "pod: rego-deny: ClusterImagePolicy/ci: 3 images from 3 containers"},
		{name: "an unsigned image: denied on its own, the module judges the others", images: []string{pinned, f.unsigned, pinned}, wantMsg: `(containers "c1"): unsigned:`,
			wantWarning: "pod: ClusterImagePolicy/ci: pod checked once: c0,c2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.validate(t, pod("p", tc.images...), reviewOpts{})
			if resp.Allowed != tc.wantAllowed || !strings.Contains(msg(resp), tc.wantMsg) {
				t.Fatalf("allowed %v message %q; want %v and %q", resp.Allowed, msg(resp), tc.wantAllowed, tc.wantMsg)
			}
			if strings.Contains(msg(resp), "rego-deny") && strings.Count(msg(resp), "rego-deny") != 1 {
				t.Fatalf("module ran more than once: %q", msg(resp))
			}
			if got := strings.Join(resp.Warnings, "\n"); !strings.Contains(got, tc.wantWarning) || strings.Count(got, "pod checked once") > 1 {
				t.Fatalf("warnings %q, want %q once", got, tc.wantWarning)
			}
		})
	}
}

// A module sees only its own policy's signatures and attestations, never
// those another matching policy asked for (another tenant's ImagePolicy).
func TestRegoSeesOnlyItsPolicy(t *testing.T) {
	f := newFixture(t, nil, func(s *v1alpha1.ImagePolicySpec) {
		s.Rego = &v1alpha1.RegoPolicy{Module: `package own
default allow := false
allow if count(input.image.signatures) == 1
deny contains a.requirement if some a in input.image.attestations
warn contains sprintf("signed by %s", [s.authority]) if some s in input.image.signatures
`}
	})
	builder := verifytest.NewKey(t)
	d, err := v1.NewHash(f.signedDigest)
	if err != nil {
		t.Fatal(err)
	}
	verifytest.Attest(t, f.host+"/app/signed", d, builder, attest.SLSAProvenanceV1, []byte(`{}`))
	tenant := policy.Object{Kind: v1alpha1.KindImagePolicy, Namespace: "team", Name: "tenant", Spec: v1alpha1.ImagePolicySpec{
		Images:      []v1alpha1.ImageGlob{{Glob: f.host + "/**"}},
		Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: f.key.PublicPEM}}},
		Attestations: []v1alpha1.AttestationRequirement{{Name: "provenance", PredicateType: "slsaprovenance1",
			Authorities: []v1alpha1.Authority{{Name: "builder", Key: &v1alpha1.KeyAuthority{Data: builder.PublicPEM}}}}},
	}}
	if err := f.admitter.cfg.Policies.Apply(tenant); err != nil {
		t.Fatal(err)
	}
	resp := f.validate(t, pod("p", f.signed+"@"+f.signedDigest), reviewOpts{})
	if !resp.Allowed || strings.Join(resp.Warnings, "\n") != `image "`+f.signed+"@"+f.signedDigest+`" (containers "c0"): ClusterImagePolicy/ci: signed by ClusterImagePolicy/ci/ci` {
		t.Fatalf("allowed %v, message %q, warnings %q", resp.Allowed, msg(resp), resp.Warnings)
	}
}

// An UPDATE that keeps the images is still judged by Rego modules (a new
// literal credential in the environment, say), not skipped.
func TestRegoJudgesUpdatesThatKeepImages(t *testing.T) {
	f := newFixture(t, nil, func(s *v1alpha1.ImagePolicySpec) {
		s.Rego = &v1alpha1.RegoPolicy{Scope: v1alpha1.RegoScopePod, Module: `package envs
import data.gatehouse.lib.secrets
default allow := false
allow if count(deny) == 0
deny contains msg if some msg in secrets.literal_denials(input.object)
`}
	})
	before := pod("p", f.signed+"@"+f.signedDigest)
	after := pod("p", f.signed+"@"+f.signedDigest)
	after.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "hunter2"}}
	resp := f.validate(t, after, reviewOpts{op: admissionv1.Update, old: before})
	if resp.Allowed || !strings.Contains(msg(resp), `pod: rego-deny: ClusterImagePolicy/ci: container "c0" sets DB_PASSWORD to a literal value`) || strings.Contains(msg(resp), "hunter2") {
		t.Fatalf("allowed %v, message %q", resp.Allowed, msg(resp))
	}
	if resp := f.validate(t, before, reviewOpts{op: admissionv1.Update, old: before}); !resp.Allowed {
		t.Fatalf("an update without the credential: %q", msg(resp))
	}
}
