package cosign_test

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/cosign"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

const digestHex = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

func TestCheck(t *testing.T) {
	key := verifytest.NewKey(t)
	verifier := key.Signer
	digest := v1.Hash{Algorithm: "sha256", Hex: digestHex}
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	signed := func(payload string) cosign.Signed {
		sig, err := key.Signer.SignMessage(strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		return cosign.Signed{Payload: []byte(payload), Signature: sig}
	}
	good := string(verifytest.Payload("r.example/app", digest))
	tests := []struct {
		name string
		s    cosign.Signed
		want error
	}{
		{name: "valid", s: signed(good)},
		{name: "payload changed after signing", s: func() cosign.Signed {
			s := signed(good)
			s.Payload = []byte(strings.Replace(good, "r.example", "x.example", 1))
			return s
		}(), want: cosign.ErrSignature},
		{name: "signature of another image", s: signed(string(verifytest.Payload("r.example/app", other))), want: cosign.ErrPayload},
		{name: "not JSON", s: signed("hello"), want: cosign.ErrPayload},
		{name: "another type", s: signed(strings.Replace(good, "cosign container image signature", "something else", 1)), want: cosign.ErrPayload},
		{name: "digest in upper case", s: signed(strings.Replace(good, digestHex, strings.ToUpper(digestHex), 1)), want: cosign.ErrPayload},
		{name: "no digest", s: signed(`{"critical":{"type":"cosign container image signature"}}`), want: cosign.ErrPayload},
		{name: "empty signature", s: cosign.Signed{Payload: []byte(good)}, want: cosign.ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := cosign.Check(tc.s, verifier, digest)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzCheck feeds arbitrary payloads, as a hostile registry could: Check
// must never panic, and never accept a payload the key did not sign.
func FuzzCheck(f *testing.F) {
	key, err := verifytest.GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	digest := v1.Hash{Algorithm: "sha256", Hex: digestHex}
	f.Add(verifytest.Payload("r.example/app", digest), []byte("sig"))
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha256:`+digestHex+`"}}}`), []byte{})
	f.Fuzz(func(t *testing.T, payload, sig []byte) {
		if err := cosign.Check(cosign.Signed{Payload: payload, Signature: sig}, key.Signer, digest); err == nil {
			t.Fatalf("accepted a signature the key did not make: %q", payload)
		}
	})
}
