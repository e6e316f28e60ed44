package cosign_test

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/cosign"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

func legacyKeyless(t *testing.T, o verifytest.LegacyKeylessOptions) cosign.Signed {
	t.Helper()
	payload := verifytest.Payload("r.example/app", v1.Hash{Algorithm: "sha256", Hex: digestHex})
	a, err := verifytest.NewSigstore(t).LegacyKeyless(payload, "dev@example.com", "https://issuer.example.com", o)
	if err != nil {
		t.Fatal(err)
	}
	return cosign.Signed{
		Payload: payload, Signature: []byte("sig"),
		Certificate: []byte(a[cosign.CertificateAnnotation]), Chain: []byte(a[cosign.ChainAnnotation]),
		Bundle: []byte(a[cosign.BundleAnnotation]), Timestamp: []byte(a[cosign.TimestampAnnotation]),
	}
}

// SigstoreBundle refuses annotations it cannot express as a bundle, naming
// the annotation, and keeps what it can for the verifier to judge.
func TestSigstoreBundle(t *testing.T) {
	good := legacyKeyless(t, verifytest.LegacyKeylessOptions{Timestamp: true})
	tests := []struct {
		name    string
		edit    func(*cosign.Signed)
		wantErr string
		entries int
		stamps  int
	}{
		{name: "certificate, log entry and timestamp", edit: func(*cosign.Signed) {}, entries: 1, stamps: 1},
		{name: "certificate and timestamp", edit: func(s *cosign.Signed) { s.Bundle = nil }, stamps: 1},
		{name: "key signature (no certificate)", edit: func(s *cosign.Signed) { s.Certificate = nil }, wantErr: "no PEM certificate"},
		{name: "public key in place of a certificate", edit: func(s *cosign.Signed) {
			s.Certificate = []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
		}, wantErr: "no PEM certificate"},
		{name: "certificate not DER", edit: func(s *cosign.Signed) {
			s.Certificate = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
		}, wantErr: "certificate"},
		{name: "bundle not JSON", edit: func(s *cosign.Signed) { s.Bundle = []byte("{") }, wantErr: cosign.BundleAnnotation},
		{name: "body not base64", edit: func(s *cosign.Signed) {
			s.Bundle = []byte(`{"SignedEntryTimestamp":"c2V0","Payload":{"body":"!","logID":"ab"}}`)
		}, wantErr: "body"},
		{name: "log ID not hex", edit: func(s *cosign.Signed) {
			s.Bundle = []byte(`{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","logID":"xyz"}}`)
		}, wantErr: "logID"},
		{name: "no signed entry timestamp", edit: func(s *cosign.Signed) {
			s.Bundle = []byte(`{"Payload":{"body":"e30=","logID":"ab"}}`)
		}, wantErr: "no SignedEntryTimestamp"},
		{name: "body names no kind", edit: func(s *cosign.Signed) {
			s.Bundle = []byte(`{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","logID":"ab"}}`)
		}, wantErr: "no kind and apiVersion"},
		{name: "unknown entry kind", edit: func(s *cosign.Signed) {
			s.Bundle = []byte(`{"SignedEntryTimestamp":"c2V0","Payload":{"body":"eyJraW5kIjoieCIsImFwaVZlcnNpb24iOiIwLjAuMSJ9","logID":"ab"}}`)
		}, wantErr: "entry body"},
		{name: "timestamp not JSON", edit: func(s *cosign.Signed) { s.Timestamp = []byte("x") }, wantErr: cosign.TimestampAnnotation},
		{name: "timestamp empty", edit: func(s *cosign.Signed) { s.Timestamp = []byte("{}") }, wantErr: cosign.TimestampAnnotation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			b, err := s.SigstoreBundle()
			if tc.wantErr != "" {
				if !errors.Is(err, cosign.ErrNotKeyless) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want ErrNotKeyless mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			entries, _ := b.TlogEntries()
			stamps, _ := b.Timestamps()
			if len(entries) != tc.entries || len(stamps) != tc.stamps || b.GetMessageSignature() == nil {
				t.Fatalf("%d entries, %d timestamps; want %d, %d and a message signature", len(entries), len(stamps), tc.entries, tc.stamps)
			}
		})
	}
}

// FuzzSigstoreBundle feeds arbitrary annotations, as a hostile registry
// could: SigstoreBundle must never panic.
func FuzzSigstoreBundle(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte(`{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","logID":"ab"}}`), []byte(`{"SignedRFC3161Timestamp":"eA=="}`))
	f.Fuzz(func(t *testing.T, cert, bundle, timestamp []byte) {
		s := cosign.Signed{Payload: []byte("{}"), Signature: []byte("sig"), Certificate: cert, Bundle: bundle, Timestamp: timestamp}
		if _, err := s.SigstoreBundle(); err != nil && !errors.Is(err, cosign.ErrNotKeyless) {
			t.Fatalf("error %v is not ErrNotKeyless", err)
		}
	})
}
