package sigstorebundle

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"gatehouse.dev/gatehouse/verify/attest"
)

// ErrNotAnAttestation: the bundle verifies but is an image signature, not
// an attestation.
var ErrNotAnAttestation = errors.New("sigstore bundle is an image signature, not an attestation")

// CheckAttestation verifies that the bundle raw is an attestation about
// digest signed with a key of trusted, and returns its statement.
func CheckAttestation(raw []byte, trusted root.TrustedMaterial, digest v1.Hash) (*attest.Statement, error) {
	b, err := parse(raw)
	if err != nil {
		return nil, err
	}
	v, err := sgverify.NewVerifier(trusted, sgverify.WithNoObserverTimestamps())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	_, st, err := verifyAttestation(v, b, digest, sgverify.WithKey())
	return st, err
}

// CheckAttestation verifies that the bundle raw is an attestation about
// digest made with a certificate of the trusted root that matches an
// identity, and returns its statement and what the certificate says.
func (k *Keyless) CheckAttestation(raw []byte, digest v1.Hash) (*attest.Statement, *Verified, error) {
	b, err := parse(raw)
	if err != nil {
		return nil, nil, err
	}
	res, st, err := verifyAttestation(k.verifier, b, digest, k.identities...)
	if err != nil {
		return nil, nil, err
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, nil, fmt.Errorf("%w: not signed with a certificate", ErrBundle)
	}
	return st, &Verified{Certificate: *res.Signature.Certificate, LogEntries: k.logEntries(b), Timestamps: res.VerifiedTimestamps}, nil
}

// verifyAttestation verifies b with v for digest, then opens the signed
// envelope's statement as every attestation is opened: in-toto payload
// type, digest among the subjects, the statement's own predicate type.
func verifyAttestation(v *sgverify.Verifier, b *bundle.Bundle, digest v1.Hash, signer ...sgverify.PolicyOption) (*sgverify.VerificationResult, *attest.Statement, error) {
	want, err := hexDigest(digest)
	if err != nil {
		return nil, nil, err
	}
	res, err := v.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest(digest.Algorithm, want), signer...))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	env := b.GetDsseEnvelope()
	st, err := attest.Open(env.GetPayloadType(), env.GetPayload(), digest)
	if err != nil {
		return nil, nil, err
	}
	if st.PredicateType == SignPredicateType {
		return nil, nil, ErrNotAnAttestation
	}
	return res, st, nil
}
