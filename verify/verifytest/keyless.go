package verifytest

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Sigstore is an in-memory Sigstore instance (sigstore-go's virtual
// Sigstore): a Fulcio CA, a Rekor log, a timestamp authority and a CT log
// that mint real certificates, log entries and timestamps, so keyless
// signing is tested without a network.
type Sigstore struct{ vs *ca.VirtualSigstore }

// NewSigstore starts a virtual Sigstore. Its CA and log keys are valid for
// about an hour.
func NewSigstore(t testing.TB) *Sigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return &Sigstore{vs: vs}
}

// RootOptions shape a trusted root.
type RootOptions struct {
	// CTLog lists the instance's CT log, so verifiers require SCTs (which
	// virtual certificates do not carry).
	CTLog bool
	// MoreLogs adds the transparency logs of other instances.
	MoreLogs []*Sigstore
}

// TrustedRoot returns a trusted_root.json naming the instance's CA,
// transparency log and timestamp authority.
func (s *Sigstore) TrustedRoot(t testing.TB, o RootOptions) string {
	t.Helper()
	logs := s.logs()
	for _, other := range o.MoreLogs {
		maps.Copy(logs, other.logs())
	}
	var ct map[string]*root.TransparencyLog
	if o.CTLog {
		ct = rawLogIDs(s.vs.CTLogs())
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, s.vs.FulcioCertificateAuthorities(), ct, s.vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

func (s *Sigstore) logs() map[string]*root.TransparencyLog { return rawLogIDs(s.vs.RekorLogs()) }

// rawLogIDs fixes the virtual Sigstore's log IDs: it keeps the hex string's
// bytes where a trusted root holds the raw SHA-256 of the key.
func rawLogIDs(logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
	for id, l := range logs {
		l.ID, _ = hex.DecodeString(id)
	}
	return logs
}

// KeylessOptions shape a keyless bundle. The zero value is what cosign v3
// sign makes: one log entry with inclusion proof and promise, and an RFC
// 3161 timestamp.
type KeylessOptions struct {
	// Predicate is the statement's predicate type (default: a signature).
	Predicate string
	// NoLogEntry leaves out the log entry: timestamps only.
	NoLogEntry bool
	// NoTimestamp leaves out the RFC 3161 timestamp.
	NoTimestamp bool
	// SameLogAgain adds a second entry in the same log at another index.
	SameLogAgain bool
	// AlsoLogIn adds an entry in each of these instances' logs.
	AlsoLogIn []*Sigstore
	// AsChain writes the certificate as a chain with the given
	// certificates after it, as cosign v3 does when signing with a
	// certificate it was given.
	AsChain []*x509.Certificate
}

// KeylessBundle makes what cosign v3 sign makes without a key: a v0.3
// bundle with a certificate issued to subject by issuer (the OIDC issuer),
// over an in-toto statement naming digest.
func (s *Sigstore) KeylessBundle(digest v1.Hash, subject, issuer string, o KeylessOptions) ([]byte, error) {
	if o.Predicate == "" {
		o.Predicate = SignPredicateType
	}
	st, err := statement(digest, o.Predicate)
	if err != nil {
		return nil, err
	}
	// The certificate is valid for 10 minutes from now: log it inside.
	ent, err := s.vs.AttestAtTime(subject, issuer, st, time.Now().Add(time.Minute), true)
	if err != nil {
		return nil, err
	}
	vc, _ := ent.VerificationContent()
	sc, _ := ent.SignatureContent()
	env := sc.EnvelopeContent().RawEnvelope()
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		return nil, err
	}
	material := &protobundle.VerificationMaterial{
		Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
		TimestampVerificationData: &protobundle.TimestampVerificationData{},
	}
	if o.AsChain != nil {
		chain := &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{{RawBytes: vc.Certificate().Raw}}}
		for _, c := range o.AsChain {
			chain.Certificates = append(chain.Certificates, &protocommon.X509Certificate{RawBytes: c.Raw})
		}
		material.Content = &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: chain}
	}
	if !o.NoTimestamp {
		tss, _ := ent.Timestamps()
		for _, ts := range tss {
			material.TimestampVerificationData.Rfc3161Timestamps = append(material.TimestampVerificationData.Rfc3161Timestamps, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
		}
	}
	if !o.NoLogEntry {
		entries, _ := ent.TlogEntries()
		first, err := s.promise(entries[0].TransparencyLogEntry())
		if err != nil {
			return nil, err
		}
		material.TlogEntries = append(material.TlogEntries, first)
		if o.SameLogAgain {
			again := proto.Clone(first).(*protorekor.TransparencyLogEntry)
			again.LogIndex++
			again.InclusionProof = nil // the proof is for the first index; the promise stands alone
			if again, err = s.promise(again); err != nil {
				return nil, err
			}
			material.TlogEntries = append(material.TlogEntries, again)
		}
		for _, other := range o.AlsoLogIn {
			e, err := other.vs.GenerateTlogEntry(vc.Certificate(), env, sig, entries[0].IntegratedTime().Unix(), true)
			if err != nil {
				return nil, err
			}
			tle, err := other.promise(e.TransparencyLogEntry())
			if err != nil {
				return nil, err
			}
			material.TlogEntries = append(material.TlogEntries, tle)
		}
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	return protojson.Marshal(&protobundle.Bundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: material,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: env.PayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	})
}

// promise completes an entry built by the virtual Sigstore as Rekor v1
// returns it: the kind and version of the entry, and a signed entry
// timestamp over its current fields.
func (s *Sigstore) promise(tle *protorekor.TransparencyLogEntry) (*protorekor.TransparencyLogEntry, error) {
	if tle == nil || tle.LogId == nil {
		return nil, errors.New("virtual Sigstore made no log entry")
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime,
		LogIndex:       tle.LogIndex,
		LogID:          hex.EncodeToString(tle.LogId.KeyId),
	})
	if err != nil {
		return nil, err
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle, nil
}

// SignBundleKeyless signs digest in repo the cosign v3 keyless way, with a
// certificate of s issued to subject by issuer.
func SignBundleKeyless(t testing.TB, repo string, digest v1.Hash, s *Sigstore, subject, issuer string, o KeylessOptions) {
	t.Helper()
	b, err := s.KeylessBundle(digest, subject, issuer, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := AttachBundle(repo, digest, b); err != nil {
		t.Fatal(err)
	}
}

// LogID is the hex ID of the instance's transparency log.
func (s *Sigstore) LogID() string {
	id, err := s.vs.RekorLogID()
	if err != nil {
		panic(err) // the key was generated by the virtual Sigstore: cannot fail
	}
	return id
}

// LegacyKeylessOptions shape a legacy keyless signature. The zero value is
// what cosign v2 sign makes without a key: a certificate and its chain, a
// Rekor entry with a signed entry timestamp, and no RFC 3161 timestamp.
type LegacyKeylessOptions struct {
	// NoLogEntry leaves out the Rekor bundle annotation.
	NoLogEntry bool
	// Timestamp adds an RFC 3161 timestamp annotation.
	Timestamp bool
	// LogEntryOf replaces the log entry with that of another payload
	// signed by the same identity: an entry not about this signature.
	LogEntryOf []byte
}

// LegacyKeyless makes the payload annotations cosign v2 sign writes
// without a key for payload, with a certificate issued to subject by issuer.
func (s *Sigstore) LegacyKeyless(payload []byte, subject, issuer string, o LegacyKeylessOptions) (map[string]string, error) {
	ent, err := s.vs.SignAtTime(subject, issuer, payload, time.Now().Add(time.Minute))
	if err != nil {
		return nil, err
	}
	vc, _ := ent.VerificationContent()
	sc, _ := ent.SignatureContent()
	leaf, err := cryptoutils.MarshalCertificateToPEM(vc.Certificate())
	if err != nil {
		return nil, err
	}
	chain, err := cryptoutils.MarshalCertificatesToPEM(s.Intermediates())
	if err != nil {
		return nil, err
	}
	a := map[string]string{
		"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sc.Signature()),
		"dev.sigstore.cosign/certificate":    string(leaf),
		"dev.sigstore.cosign/chain":          string(chain),
	}
	logged := ent
	if o.LogEntryOf != nil {
		if logged, err = s.vs.SignAtTime(subject, issuer, o.LogEntryOf, time.Now().Add(time.Minute)); err != nil {
			return nil, err
		}
	}
	if !o.NoLogEntry {
		if a["dev.sigstore.cosign/bundle"], err = s.rekorBundle(logged); err != nil {
			return nil, err
		}
	}
	if o.Timestamp {
		tss, _ := ent.Timestamps()
		if a["dev.sigstore.cosign/rfc3161timestamp"], err = timestampAnnotation(tss[0]); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// rekorBundle is the bundle annotation of the log entry of ent: the entry
// and its signed entry timestamp.
func (s *Sigstore) rekorBundle(ent *ca.TestEntity) (string, error) {
	entries, _ := ent.TlogEntries()
	tle := entries[0].TransparencyLogEntry()
	payload := tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.CanonicalizedBody),
		IntegratedTime: tle.IntegratedTime,
		LogIndex:       tle.LogIndex,
		LogID:          hex.EncodeToString(tle.LogId.KeyId),
	}
	set, err := s.vs.RekorSignPayload(payload)
	if err != nil {
		return "", err
	}
	js, err := json.Marshal(map[string]any{"SignedEntryTimestamp": set, "Payload": payload})
	return string(js), err
}

// timestampAnnotation is the RFC 3161 timestamp annotation of tsr.
func timestampAnnotation(tsr []byte) (string, error) {
	js, err := json.Marshal(map[string][]byte{"SignedRFC3161Timestamp": tsr})
	return string(js), err
}

// LegacyKeylessAttestation makes what cosign v2 attest writes without a
// key for statement: the DSSE envelope (the .att layer) and its layer
// annotations, with a certificate issued to subject by issuer. Its RFC 3161
// timestamp (o.Timestamp) covers the whole envelope, as cosign v2's does,
// unless stampSignature, when it covers the envelope's signature instead.
func (s *Sigstore) LegacyKeylessAttestation(statement []byte, subject, issuer string, o LegacyKeylessOptions, stampSignature bool) ([]byte, map[string]string, error) {
	ent, err := s.vs.AttestAtTime(subject, issuer, statement, time.Now().Add(time.Minute), false)
	if err != nil {
		return nil, nil, err
	}
	vc, _ := ent.VerificationContent()
	sc, _ := ent.SignatureContent()
	envelope, err := json.Marshal(sc.EnvelopeContent().RawEnvelope())
	if err != nil {
		return nil, nil, err
	}
	leaf, err := cryptoutils.MarshalCertificateToPEM(vc.Certificate())
	if err != nil {
		return nil, nil, err
	}
	chain, err := cryptoutils.MarshalCertificatesToPEM(s.Intermediates())
	if err != nil {
		return nil, nil, err
	}
	a := map[string]string{
		"dev.cosignproject.cosign/signature": "",
		"dev.sigstore.cosign/certificate":    string(leaf),
		"dev.sigstore.cosign/chain":          string(chain),
	}
	if !o.NoLogEntry {
		if a["dev.sigstore.cosign/bundle"], err = s.rekorBundle(ent); err != nil {
			return nil, nil, err
		}
	}
	if o.Timestamp {
		stamped := envelope
		if stampSignature {
			stamped = sc.Signature()
		}
		tsr, err := s.vs.TimestampResponse(stamped)
		if err != nil {
			return nil, nil, err
		}
		if a["dev.sigstore.cosign/rfc3161timestamp"], err = timestampAnnotation(tsr); err != nil {
			return nil, nil, err
		}
	}
	return envelope, a, nil
}

// AttestLegacyKeyless attests digest in repo the cosign v2 keyless way: an
// .att layer with the certificate, log entry and timestamp annotations.
func AttestLegacyKeyless(t testing.TB, repo string, digest v1.Hash, s *Sigstore, subject, issuer, predicateType string, predicate []byte, o LegacyKeylessOptions, stampSignature bool) {
	t.Helper()
	env, a, err := s.LegacyKeylessAttestation(InTotoStatement(repo, digest, predicateType, predicate), subject, issuer, o, stampSignature)
	if err != nil {
		t.Fatal(err)
	}
	a["predicateType"] = predicateType
	attachAttestation(t, repo, digest, env, a)
}

// SignLegacyKeyless signs digest in repo the cosign v2 keyless way, with a
// certificate of s issued to subject by issuer.
func SignLegacyKeyless(t testing.TB, repo string, digest v1.Hash, s *Sigstore, subject, issuer string, o LegacyKeylessOptions) {
	t.Helper()
	payload := Payload(repo, digest)
	a, err := s.LegacyKeyless(payload, subject, issuer, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := AttachAnnotated(repo, digest, payload, a); err != nil {
		t.Fatal(err)
	}
}

// Intermediates are the CA's intermediate certificates.
func (s *Sigstore) Intermediates() []*x509.Certificate {
	return s.vs.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority).Intermediates
}

// PEMs returns the instance's trust material as PEM: its CA chain
// (intermediates first, root last), its timestamp authority's chain (the
// signing certificate first) and its transparency log's public key.
func (s *Sigstore) PEMs(t testing.TB) (ca, tsa, tlog string) {
	t.Helper()
	fulcio := s.vs.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	ts := s.vs.TimestampingAuthorities()[0].(*root.SigstoreTimestampingAuthority)
	caPEM, err := cryptoutils.MarshalCertificatesToPEM(append(slices.Clone(fulcio.Intermediates), fulcio.Root))
	if err != nil {
		t.Fatal(err)
	}
	tsaPEM, err := cryptoutils.MarshalCertificatesToPEM(append(append([]*x509.Certificate{ts.Leaf}, ts.Intermediates...), ts.Root))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range s.vs.RekorLogs() {
		key, err := cryptoutils.MarshalPublicKeyToPEM(l.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		tlog = string(key)
	}
	return string(caPEM), string(tsaPEM), tlog
}
