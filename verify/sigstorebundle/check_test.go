package sigstorebundle_test

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/root"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/sigstorebundle"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

var (
	digest = v1.Hash{Algorithm: "sha256", Hex: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
	other  = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("1", 64)}
)

func trustedKey(t testing.TB, pem string) root.TrustedMaterial {
	t.Helper()
	k, err := verify.ParseKey(pem, "")
	if err != nil {
		t.Fatal(err)
	}
	return k.Trusted()
}

func TestCheck(t *testing.T) {
	signer, stranger := verifytest.NewKey(t), verifytest.NewKey(t)
	trusted := trustedKey(t, signer.PublicPEM)
	bundle := func(k *verifytest.Key, d v1.Hash, predicate string) []byte {
		b, err := verifytest.Bundle(k, d, predicate)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{name: "cosign v3 signature", raw: bundle(signer, digest, verifytest.SignPredicateType)},
		{name: "another key", raw: bundle(stranger, digest, verifytest.SignPredicateType), want: sigstorebundle.ErrBundle},
		{name: "another image", raw: bundle(signer, other, verifytest.SignPredicateType), want: sigstorebundle.ErrBundle},
		{name: "an attestation is not a signature", raw: bundle(signer, digest, "https://slsa.dev/provenance/v1"), want: sigstorebundle.ErrNotASignature},
		{name: "not JSON", raw: []byte("{"), want: sigstorebundle.ErrBundle},
		{name: "empty bundle", raw: []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`), want: sigstorebundle.ErrBundle},
		{name: "payload changed", raw: []byte(strings.Replace(string(bundle(signer, digest, verifytest.SignPredicateType)), `"payload":"`, `"payload":"eyJ4Ijox`, 1)), want: sigstorebundle.ErrBundle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := sigstorebundle.Check(tc.raw, trusted, digest)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzCheck: arbitrary bytes from a hostile registry never panic and never
// verify.
func FuzzCheck(f *testing.F) {
	signer, err := verifytest.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	trusted := trustedKey(f, signer.PublicPEM)
	seed, err := verifytest.Bundle(signer, other, verifytest.SignPredicateType)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if sigstorebundle.Check(raw, trusted, digest) == nil {
			t.Fatalf("accepted %q", raw)
		}
	})
}
