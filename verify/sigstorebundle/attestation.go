package sigstorebundle

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
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
	_, st, err := verifyAttestation(v, b, b.GetDsseEnvelope(), digest, sgverify.WithKey())
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
	return k.checkAttestation(b, b, digest)
}

// CheckLegacyAttestation verifies b, a keyless cosign v2 attestation
// expressed as a bundle (cosign.Signed.AttestationBundle); stored is the
// envelope as the .att layer holds it. The rest is as in CheckAttestation.
//
// cosign v2 asks the timestamp authority to stamp the stored envelope, not
// its signature. Without a log (a threshold of 0), the timestamp is the
// only verified time, so it is checked over what was stamped. With logs,
// the log's signed entry timestamps give the time and the log entry must
// match the envelope's signature, so the RFC 3161 timestamp is set aside,
// as cosign v2 does not require it either.
func (k *Keyless) CheckLegacyAttestation(b *bundle.Bundle, stored []byte, digest v1.Hash) (*attest.Statement, *Verified, error) {
	return k.checkAttestation(legacyAttestation{Bundle: b, stored: stored, stamped: k.logs == 0}, b, digest)
}

func (k *Keyless) checkAttestation(entity sgverify.SignedEntity, b *bundle.Bundle, digest v1.Hash) (*attest.Statement, *Verified, error) {
	res, st, err := verifyAttestation(k.verifier, entity, b.GetDsseEnvelope(), digest, k.identities...)
	if err != nil {
		return nil, nil, err
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, nil, fmt.Errorf("%w: not signed with a certificate", ErrBundle)
	}
	return st, &Verified{Certificate: *res.Signature.Certificate, LogEntries: k.logEntries(b), Timestamps: res.VerifiedTimestamps}, nil
}

// legacyAttestation is a cosign v2 attestation as sigstore-go verifies it.
// stamped: its RFC 3161 timestamps cover stored (the envelope as stored)
// and are verified over it; otherwise they are left out.
type legacyAttestation struct {
	*bundle.Bundle
	stored  []byte
	stamped bool
}

func (l legacyAttestation) SignatureContent() (sgverify.SignatureContent, error) {
	sc, err := l.Bundle.SignatureContent()
	if err != nil || !l.stamped {
		return sc, err
	}
	return stampedEnvelope{SignatureContent: sc, stored: l.stored}, nil
}

func (l legacyAttestation) Timestamps() ([][]byte, error) {
	if !l.stamped {
		return nil, nil
	}
	return l.Bundle.Timestamps()
}

// stampedEnvelope is a DSSE envelope's signature content whose signature,
// as timestamp verification reads it, is the envelope as stored. The DSSE
// signature itself is verified through EnvelopeContent.
type stampedEnvelope struct {
	sgverify.SignatureContent
	stored []byte
}

func (s stampedEnvelope) Signature() []byte { return s.stored }

// verifyAttestation verifies b with v for digest, then opens the signed
// envelope's statement as every attestation is opened: in-toto payload
// type, digest among the subjects, the statement's own predicate type.
func verifyAttestation(v *sgverify.Verifier, entity sgverify.SignedEntity, env *protodsse.Envelope, digest v1.Hash, signer ...sgverify.PolicyOption) (*sgverify.VerificationResult, *attest.Statement, error) {
	want, err := hexDigest(digest)
	if err != nil {
		return nil, nil, err
	}
	if env == nil {
		return nil, nil, fmt.Errorf("%w: no DSSE envelope", ErrBundle)
	}
	res, err := v.Verify(entity, sgverify.NewPolicy(sgverify.WithArtifactDigest(digest.Algorithm, want), signer...))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	st, err := attest.Open(env.GetPayloadType(), env.GetPayload(), digest)
	if err != nil {
		return nil, nil, err
	}
	if st.PredicateType == SignPredicateType {
		return nil, nil, ErrNotAnAttestation
	}
	return res, st, nil
}
