package cosign

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// ErrNotKeyless: the signature carries no certificate, or what it carries
// beside the signature (certificate, log entry, timestamp) is malformed.
var ErrNotKeyless = errors.New("not a well-formed keyless cosign signature")

// legacyBundleMediaType is the oldest sigstore bundle version: the one whose
// log entries hold a signed entry timestamp without an inclusion proof,
// which is what the legacy format's bundle annotation carries.
const legacyBundleMediaType = "application/vnd.dev.sigstore.bundle+json;version=0.1"

// rekorBundle is the bundle annotation: Rekor's answer when the signature
// was logged, a signed entry timestamp over the entry.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"` // base64 of the canonical entry
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"` // hex
	} `json:"Payload"`
}

// rfc3161 is the timestamp annotation.
type rfc3161 struct {
	SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
}

// SigstoreBundle expresses a keyless legacy signature (cosign v2 sign without a
// key: a certificate, and a Rekor entry or an RFC 3161 timestamp in
// annotations) as the sigstore bundle it is equivalent to, so one verifier
// checks both formats: a message signature over the payload, the signing
// certificate, the log entry with its signed entry timestamp and the
// timestamp. The bundle still has to be verified, and the payload checked
// with CheckPayload.
func (s Signed) SigstoreBundle() (*bundle.Bundle, error) {
	material, err := s.material()
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(s.Payload)
	b, err := bundle.NewBundle(&protobundle.Bundle{
		MediaType:            legacyBundleMediaType,
		VerificationMaterial: material,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: digest[:]},
			Signature:     s.Signature,
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotKeyless, err)
	}
	return b, nil
}

// AttestationBundle expresses a keyless legacy attestation (cosign v2
// attest without a key: the DSSE envelope as the layer, the certificate, a
// Rekor entry and an RFC 3161 timestamp in annotations) as the sigstore
// bundle it is equivalent to. One difference remains for the verifier:
// cosign v2 timestamps the whole envelope as stored (s.Payload), where a
// bundle's timestamp covers the envelope's signature.
func (s Signed) AttestationBundle() (*bundle.Bundle, error) {
	material, err := s.material()
	if err != nil {
		return nil, err
	}
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   []byte `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(s.Payload, &env); err != nil || len(env.Signatures) != 1 {
		return nil, fmt.Errorf("%w: the layer is not a DSSE envelope with one signature", ErrNotKeyless)
	}
	b, err := bundle.NewBundle(&protobundle.Bundle{
		MediaType:            legacyBundleMediaType,
		VerificationMaterial: material,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			PayloadType: env.PayloadType,
			Payload:     env.Payload,
			Signatures:  []*protodsse.Signature{{Keyid: env.Signatures[0].KeyID, Sig: env.Signatures[0].Sig}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotKeyless, err)
	}
	return b, nil
}

// material is the verification material of a keyless legacy signature or
// attestation: its certificate, log entry and timestamp annotations.
func (s Signed) material() (*protobundle.VerificationMaterial, error) {
	block, _ := pem.Decode(s.Certificate)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no PEM certificate in the %s annotation", ErrNotKeyless, CertificateAnnotation)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("%w: %s annotation: %v", ErrNotKeyless, CertificateAnnotation, err)
	}
	material := &protobundle.VerificationMaterial{
		// The chain annotation is not used: intermediates and roots come
		// from the trusted root only.
		Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
			Certificates: []*protocommon.X509Certificate{{RawBytes: block.Bytes}},
		}},
		TimestampVerificationData: &protobundle.TimestampVerificationData{},
	}
	if len(s.Bundle) > 0 {
		entry, err := logEntry(s.Bundle)
		if err != nil {
			return nil, err
		}
		material.TlogEntries = []*protorekor.TransparencyLogEntry{entry}
	}
	if len(s.Timestamp) > 0 {
		var ts rfc3161
		if err := json.Unmarshal(s.Timestamp, &ts); err != nil || len(ts.SignedRFC3161Timestamp) == 0 {
			return nil, fmt.Errorf("%w: %s annotation: want {\"SignedRFC3161Timestamp\": <base64>}", ErrNotKeyless, TimestampAnnotation)
		}
		material.TimestampVerificationData.Rfc3161Timestamps = []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: ts.SignedRFC3161Timestamp}}
	}
	return material, nil
}

// logEntry reads the bundle annotation into a log entry. The entry's kind
// and version are those of its body; whether the body matches this
// signature and whether the timestamp is the log's is for the verifier.
func logEntry(raw []byte) (*protorekor.TransparencyLogEntry, error) {
	var rb rekorBundle
	if err := json.Unmarshal(raw, &rb); err != nil {
		return nil, fmt.Errorf("%w: %s annotation: %v", ErrNotKeyless, BundleAnnotation, err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s annotation: body: %v", ErrNotKeyless, BundleAnnotation, err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil || len(logID) == 0 {
		return nil, fmt.Errorf("%w: %s annotation: logID %q is not hex", ErrNotKeyless, BundleAnnotation, rb.Payload.LogID)
	}
	if len(rb.SignedEntryTimestamp) == 0 {
		return nil, fmt.Errorf("%w: %s annotation: no SignedEntryTimestamp", ErrNotKeyless, BundleAnnotation)
	}
	var kind struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kind); err != nil || kind.Kind == "" || kind.APIVersion == "" {
		return nil, fmt.Errorf("%w: %s annotation: the entry body names no kind and apiVersion", ErrNotKeyless, BundleAnnotation)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}, nil
}
