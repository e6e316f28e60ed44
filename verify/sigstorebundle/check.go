package sigstorebundle

import (
	"encoding/hex"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"
)

// SignPredicateType is the predicate type of a cosign v3 image signature.
const SignPredicateType = "https://sigstore.dev/cosign/sign/v1"

// Errors of Check and Keyless.Check.
var (
	// ErrBundle: the bundle is malformed or does not verify.
	ErrBundle = errors.New("sigstore bundle does not verify")
	// ErrNotASignature: the bundle verifies but is not a cosign image
	// signature (another predicate: an attestation, not a signature).
	ErrNotASignature = errors.New("sigstore bundle is not an image signature")
)

// Check verifies that the bundle raw is a cosign image signature of digest
// made with a key of trusted. Without a transparency log or timestamp in
// the bundle, key signatures verify as cosign verify --key does with the
// log disabled.
func Check(raw []byte, trusted root.TrustedMaterial, digest v1.Hash) error {
	b, err := parse(raw)
	if err != nil {
		return err
	}
	v, err := sgverify.NewVerifier(trusted, sgverify.WithNoObserverTimestamps())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBundle, err)
	}
	_, err = verifySignature(v, b, digest, sgverify.WithKey())
	return err
}

// parse reads a bundle that holds a DSSE envelope, as cosign v3 signatures do.
//
// cosign v3 signing with a certificate it was given (--certificate) writes
// the certificate as a one-element chain, a form v0.3 bundles otherwise
// refuse. parse keeps the chain's leaf as the signing certificate and
// drops the rest: intermediates and roots come from the trusted root
// only, never from the signature.
func parse(raw []byte) (*bundle.Bundle, error) {
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(raw, &pb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if chain := pb.GetVerificationMaterial().GetX509CertificateChain(); chain != nil && len(chain.GetCertificates()) > 0 {
		pb.VerificationMaterial.Content = &protobundle.VerificationMaterial_Certificate{Certificate: chain.GetCertificates()[0]}
	}
	b, err := bundle.NewBundle(&pb)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if b.GetDsseEnvelope() == nil {
		return nil, fmt.Errorf("%w: no DSSE envelope", ErrNotASignature)
	}
	return b, nil
}

// verifySignature verifies b with v: the envelope's statement must name
// digest as its subject and be a cosign image signature; who may have
// signed is the policy options' to say (a key, or certificate identities).
func verifySignature(v *sgverify.Verifier, b *bundle.Bundle, digest v1.Hash, signer ...sgverify.PolicyOption) (*sgverify.VerificationResult, error) {
	want, err := hexDigest(digest)
	if err != nil {
		return nil, err
	}
	res, err := v.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest(digest.Algorithm, want), signer...))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	// cosign verify does not look at the predicate type; gatehouse does, so
	// an attestation cannot pass for a signature.
	if res.Statement == nil || res.Statement.GetPredicateType() != SignPredicateType {
		return nil, fmt.Errorf("%w: predicate type %q", ErrNotASignature, res.Statement.GetPredicateType())
	}
	return res, nil
}

func hexDigest(digest v1.Hash) ([]byte, error) {
	want, err := hex.DecodeString(digest.Hex)
	if err != nil {
		return nil, fmt.Errorf("%w: digest: %v", ErrBundle, err)
	}
	return want, nil
}
