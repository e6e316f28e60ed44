package webhook

import (
	"context"
	"testing"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
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
