package webhook

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// BenchmarkAdmitWarm: a pod whose pinned image was verified before, so the
// verification is answered by the digest cache and no registry is asked.
// This is the cost of gatehouse itself per admission.
func BenchmarkAdmitWarm(b *testing.B) {
	f := newFixture(b, nil, nil)
	req := review(b, pod("p", f.signed+"@"+f.signedDigest), reviewOpts{}).Request
	f.admitter.Admit(context.Background(), req, false)
	b.ReportAllocs()
	for b.Loop() {
		if d := f.admitter.Admit(context.Background(), req, false); !d.Allowed {
			b.Fatal(d.Denials)
		}
	}
}

// BenchmarkAdmitCold: the same pod with the cache off, so each admission
// resolves the tag and fetches and checks the signatures from an in-memory
// registry over loopback HTTP.
func BenchmarkAdmitCold(b *testing.B) {
	f := newFixture(b, func(c *Config) {
		v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
		if err != nil {
			b.Fatal(err)
		}
		c.Verifier = v
	}, nil)
	req := review(b, pod("p", f.signed), reviewOpts{}).Request
	b.ReportAllocs()
	for b.Loop() {
		if d := f.admitter.Admit(context.Background(), req, false); !d.Allowed {
			b.Fatal(d.Denials)
		}
	}
}

// supplyChain makes the fixture's policy require a SLSA provenance
// attestation from a builder key and judge it with a Rego module using the
// library, as docs/examples/supply-chain-policy.yaml does.
// The builder attests the fixture's signed image once it is pushed (attest).
func supplyChain(b testing.TB) (spec func(*v1alpha1.ImagePolicySpec), attestSigned func(*fixture)) {
	builder := verifytest.NewKey(b)
	spec = func(s *v1alpha1.ImagePolicySpec) {
		s.Attestations = []v1alpha1.AttestationRequirement{{Name: "provenance", PredicateType: "slsaprovenance1",
			Authorities: []v1alpha1.Authority{{Name: "builder", Key: &v1alpha1.KeyAuthority{Data: builder.PublicPEM}}}}}
		s.Rego = &v1alpha1.RegoPolicy{Module: benchModule}
	}
	attestSigned = func(f *fixture) {
		d, err := v1.NewHash(f.signedDigest)
		if err != nil {
			b.Fatal(err)
		}
		verifytest.Attest(b, f.host+"/app/signed", d, builder, attest.SLSAProvenanceV1, []byte(`{"runDetails":{"builder":{"id":"https://ci.example.com"}}}`))
	}
	return spec, attestSigned
}

const benchModule = `package bench

import data.gatehouse.lib.images
import data.gatehouse.lib.slsa

default allow := false

allow if count(deny) == 0

deny contains msg if some msg in images.tag_denials(input.image)

deny contains msg if some msg in slsa.builder_denials(input.image, {"https://ci.example.com"})
`

// BenchmarkAdmitWarmRego: BenchmarkAdmitWarm with a required provenance
// attestation and a Rego module: the verification (signature, attestation,
// image configuration) comes from the cache; the module runs every time.
func BenchmarkAdmitWarmRego(b *testing.B) {
	spec, attestSigned := supplyChain(b)
	f := newFixture(b, nil, spec)
	attestSigned(f)
	req := review(b, pod("p", f.signed+"@"+f.signedDigest), reviewOpts{}).Request
	if d := f.admitter.Admit(context.Background(), req, false); !d.Allowed {
		b.Fatal(d.Denials)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d := f.admitter.Admit(context.Background(), req, false); !d.Allowed {
			b.Fatal(d.Denials)
		}
	}
}

// BenchmarkAdmitColdRego: the same with the cache off: the registry is
// asked for the signature, the attestation and the configuration each time.
func BenchmarkAdmitColdRego(b *testing.B) {
	spec, attestSigned := supplyChain(b)
	f := newFixture(b, func(c *Config) {
		v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
		if err != nil {
			b.Fatal(err)
		}
		c.Verifier = v
	}, spec)
	attestSigned(f)
	req := review(b, pod("p", f.signed), reviewOpts{}).Request
	b.ReportAllocs()
	for b.Loop() {
		if d := f.admitter.Admit(context.Background(), req, false); !d.Allowed {
			b.Fatal(d.Denials)
		}
	}
}
