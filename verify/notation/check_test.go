package notation_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"gatehouse.dev/gatehouse/verify/notation"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

var (
	release  = pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"example"}, CommonName: "release"}
	identity = "x509.subject: C=US, ST=WA, O=example, CN=release"
	image    = v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}, Size: 528}
	ref      = "registry.example.com/app@" + image.Digest.String()
)

// Check accepts exactly the envelopes notation verify would accept under
// the authority's trust policy, for this image descriptor, with no I/O.
func TestCheck(t *testing.T) {
	ca, otherCA := verifytest.NewNotationCA(t, "release-ca"), verifytest.NewNotationCA(t, "other-ca")
	signer := ca.Signer(t, release, time.Now().Add(time.Hour))
	v, err := notation.New(notation.Config{
		Stores:            []notation.Store{{Type: truststore.TypeCA, Name: "release", Certificates: []*x509.Certificate{ca.Cert}}},
		TrustedIdentities: []string{identity},
	})
	if err != nil {
		t.Fatal(err)
	}
	otherSize := image
	otherSize.Size++
	builder := release
	builder.CommonName = "builder"
	tests := []struct {
		name    string
		sig     notation.Signature
		wantErr string
	}{
		{name: "jws", sig: sign(t, signer, image, notation.MediaTypeJWS)},
		{name: "cose", sig: sign(t, signer, image, notation.MediaTypeCOSE)},
		{name: "untrusted identity", sig: sign(t, ca.Signer(t, builder, time.Now().Add(time.Hour)), image, notation.MediaTypeJWS), wantErr: "trusted identities"},
		{name: "another CA", sig: sign(t, otherCA.Signer(t, release, time.Now().Add(time.Hour)), image, notation.MediaTypeJWS), wantErr: "does not contain any trusted certificate"},
		{name: "another size of the manifest", sig: sign(t, signer, otherSize, notation.MediaTypeJWS), wantErr: "content descriptor mismatch"},
		{name: "envelope type mislabelled", sig: notation.Signature{MediaType: notation.MediaTypeCOSE, Envelope: sign(t, signer, image, notation.MediaTypeJWS).Envelope}, wantErr: "unable to parse the digital signature"},
		{name: "garbage", sig: notation.Signature{MediaType: notation.MediaTypeJWS, Envelope: []byte("{}")}, wantErr: "certificate chain is not present"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := v.Check(context.Background(), tc.sig, image, ref)
			if tc.wantErr == "" {
				if err != nil || o.Subject != "CN=release,O=example,ST=WA,C=US" {
					t.Fatalf("outcome %+v, error %v", o, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func sign(t *testing.T, s *verifytest.NotationSigner, target v1.Descriptor, mediaType string) notation.Signature {
	t.Helper()
	return notation.Signature{MediaType: mediaType, Envelope: verifytest.NotationEnvelope(t, s, target, mediaType)}
}
