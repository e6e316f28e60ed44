package sigstorebundle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
)

// Keyless checks bundles signed with short-lived Fulcio certificates, the
// way cosign v3 signs without a key. It is built once from a trusted root
// and validated then; Check is safe for concurrent use.
//
// What it requires of a bundle:
//   - logs >= 1: entries in at least that many distinct transparency logs
//     of the trusted root (sigstore-go counts log IDs, not entries, and
//     refuses duplicate entries), and at least one verified time, from a
//     log's signed entry timestamp or an RFC 3161 timestamp; the
//     certificate chain must be valid at every verified time.
//   - logs == 0: an RFC 3161 timestamp of a timestamp authority of the
//     trusted root (for private deployments without a log).
//   - when the trusted root lists CT logs (as Sigstore's public instance
//     does), a signed certificate timestamp embedded in the certificate,
//     as cosign verify requires by default.
type Keyless struct {
	trusted    root.TrustedMaterial
	verifier   *sgverify.Verifier
	identities []sgverify.PolicyOption
	logs       int
}

// NewKeyless returns a Keyless for the trusted root, accepting certificates
// that match any of identities, with logs transparency log entries.
func NewKeyless(trusted root.TrustedMaterial, identities []sgverify.CertificateIdentity, logs int) (*Keyless, error) {
	switch {
	case len(trusted.FulcioCertificateAuthorities()) == 0:
		return nil, errors.New("the trusted root lists no certificate authority (Fulcio): no certificate can verify")
	case len(identities) == 0:
		return nil, errors.New("at least one identity is required")
	case logs < 0:
		return nil, fmt.Errorf("transparency log threshold %d: must be 0 or more", logs)
	case logs > len(trusted.RekorLogs()):
		return nil, fmt.Errorf("transparency log threshold %d: the trusted root lists only %d transparency log(s)", logs, len(trusted.RekorLogs()))
	case logs == 0 && len(trusted.TimestampingAuthorities()) == 0:
		return nil, errors.New("transparency log threshold 0 needs signed timestamps, but the trusted root lists no timestamp authority")
	}
	var opts []sgverify.VerifierOption
	if logs > 0 {
		opts = append(opts, sgverify.WithTransparencyLog(logs), sgverify.WithObserverTimestamps(1))
	} else {
		opts = append(opts, sgverify.WithSignedTimestamps(1))
	}
	if len(trusted.CTLogs()) > 0 {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	v, err := sgverify.NewVerifier(trusted, opts...)
	if err != nil {
		return nil, err
	}
	k := &Keyless{trusted: trusted, verifier: v, logs: logs}
	for _, id := range identities {
		k.identities = append(k.identities, sgverify.WithCertificateIdentity(id))
	}
	return k, nil
}

// Verified is what Keyless.Check established about a bundle.
type Verified struct {
	// Certificate summarizes the signing certificate: its subject
	// alternative name, OIDC issuer and the other Fulcio extensions.
	Certificate certificate.Summary
	// LogEntries are the bundle's entries in logs of the trusted root.
	LogEntries []LogEntry
	// Timestamps are the verified times the certificate was checked at.
	Timestamps []sgverify.TimestampVerificationResult
}

// LogEntry identifies one transparency log entry.
type LogEntry struct {
	LogID          string // hex SHA-256 of the log's public key
	Index          int64
	IntegratedTime time.Time // zero when the log gives none (Rekor v2)
}

// Check verifies that the bundle raw is a cosign image signature of digest,
// made with a certificate of the trusted root that matches an identity.
func (k *Keyless) Check(raw []byte, digest v1.Hash) (*Verified, error) {
	b, err := parse(raw)
	if err != nil {
		return nil, err
	}
	res, err := verifySignature(k.verifier, b, digest, k.identities...)
	if err != nil {
		return nil, err
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, fmt.Errorf("%w: not signed with a certificate", ErrBundle)
	}
	return &Verified{Certificate: *res.Signature.Certificate, LogEntries: k.logEntries(b), Timestamps: res.VerifiedTimestamps}, nil
}

// CheckMessage verifies b, a bundle holding a message signature over
// payload (a legacy cosign signature expressed as a bundle), made with a
// certificate of the trusted root that matches an identity. What payload
// claims is the caller's to check.
func (k *Keyless) CheckMessage(b *bundle.Bundle, payload []byte) (*Verified, error) {
	if b.GetMessageSignature() == nil {
		return nil, fmt.Errorf("%w: no message signature", ErrBundle)
	}
	res, err := k.verifier.Verify(b, sgverify.NewPolicy(sgverify.WithArtifact(bytes.NewReader(payload)), k.identities...))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, fmt.Errorf("%w: not signed with a certificate", ErrBundle)
	}
	return &Verified{Certificate: *res.Signature.Certificate, LogEntries: k.logEntries(b), Timestamps: res.VerifiedTimestamps}, nil
}

// logEntries lists the entries sigstore-go counted: those of logs in the
// trusted root whose signed entry timestamp, if any, verifies. Verify has
// already refused the bundle if any of them is otherwise invalid.
func (k *Keyless) logEntries(b *bundle.Bundle) []LogEntry {
	entries, err := b.TlogEntries()
	if err != nil {
		return nil
	}
	logs := k.trusted.RekorLogs()
	var out []LogEntry
	for _, e := range entries {
		id := hex.EncodeToString([]byte(e.LogKeyID()))
		if _, ok := logs[id]; !ok || (e.HasInclusionPromise() && tlog.VerifySET(e, logs) != nil) {
			continue
		}
		out = append(out, LogEntry{LogID: id, Index: e.LogIndex(), IntegratedTime: e.IntegratedTime()})
	}
	return out
}
