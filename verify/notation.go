package verify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"gatehouse.dev/gatehouse/verify/notation"
)

// TypeNotation is a Notary Project signature (JWS or COSE envelope)
// attached as an OCI referrer.
const TypeNotation = "notation"

// Notation trusts Notary Project signatures made with a certificate that
// chains to one of its trust stores and whose subject is one of its
// trusted identities.
type Notation struct {
	// ID is "sha256:<hex>" over the stores, identities and level: two
	// authorities with the same ID are the same signer.
	ID                string
	TrustedIdentities []string
	Level             string
	checker           *notation.Verifier
}

// NotationStore is one trust store of a notation authority.
type NotationStore struct {
	// Type is "ca", "signingAuthority" or "tsa".
	Type string
	Name string
	// PEM holds the store's certificates, PEM-encoded.
	PEM string
}

// NotationSignature is what a verified notation signature says.
type NotationSignature struct {
	// Subject is the signing certificate's subject, e.g. "CN=release,O=example,C=US".
	Subject string `json:"subject"`
	// Envelope is the envelope format: "jws" or "cose".
	Envelope string `json:"envelope"`
	// SigningTime is the signing time the signature states.
	SigningTime time.Time `json:"signingTime"`
}

// NotationConfig is what a notation authority trusts.
type NotationConfig struct {
	Stores            []NotationStore
	TrustedIdentities []string
	// Level is "strict" ("" means strict) or "permissive".
	Level string
	// CRLs are certificate revocation lists of the CAs that issue signing
	// or timestamping certificates. With any, revocation is enforced from
	// them alone; with none it is not checked.
	CRLs []NotationCRL
}

// NotationCRL is one source of revocation lists.
type NotationCRL struct {
	// Source names where the lists came from, for messages.
	Source string
	// Data holds PEM "X509 CRL" blocks or one DER CRL.
	Data []byte
}

// NewNotation parses the stores' certificates and the CRLs and returns a
// Notation that accepts signatures notation-go verifies under a trust
// policy of these stores, identities and level. It is refused with
// notation-go's own message when that trust policy is not valid. Nothing
// is fetched from the network.
func NewNotation(c NotationConfig) (*Notation, error) {
	var errs []error
	stores, identities, level := c.Stores, c.TrustedIdentities, c.Level
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00", level, identities)
	var parsed []notation.Store
	for i, s := range stores {
		certs, err := parseCertificates(s.PEM)
		if err != nil {
			errs = append(errs, fmt.Errorf("trustStores[%d] (%s:%s): %w", i, s.Type, s.Name, err))
			continue
		}
		t := truststore.Type(s.Type)
		switch t {
		case truststore.TypeCA, truststore.TypeSigningAuthority, truststore.TypeTSA:
		default:
			errs = append(errs, fmt.Errorf("trustStores[%d].type %q: use ca, signingAuthority or tsa", i, s.Type))
			continue
		}
		fmt.Fprintf(h, "%s:%s\x00", s.Type, s.Name)
		for _, c := range certs {
			h.Write(c.Raw)
		}
		parsed = append(parsed, notation.Store{Type: t, Name: s.Name, Certificates: certs})
	}
	var crls []*x509.RevocationList
	for i, c := range c.CRLs {
		l, err := notation.ParseCRLs(c.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("crls[%d] (%s): %w", i, c.Source, err))
			continue
		}
		fmt.Fprintf(h, "crl\x00")
		for _, crl := range l {
			h.Write(crl.Raw) // a new CRL is a new authority: cached verdicts do not outlive it
		}
		crls = append(crls, l...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	checker, err := notation.New(notation.Config{Stores: parsed, TrustedIdentities: identities, Level: level, CRLs: crls})
	if err != nil {
		return nil, err
	}
	if level == "" {
		level = notation.LevelStrict
	}
	return &Notation{ID: "sha256:" + hex.EncodeToString(h.Sum(nil)), TrustedIdentities: identities, Level: level, checker: checker}, nil
}

// parseCertificates reads every CERTIFICATE block of pemData.
func parseCertificates(pemData string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(pemData)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q: want CERTIFICATE blocks only", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found (want one or more \"-----BEGIN CERTIFICATE-----\" blocks)")
	}
	return certs, nil
}

// check returns the signature of the first envelope that verifies for the
// image manifest target, named repository@digest, else why envelopes that
// would have verified were refused for revocation.
func (n *Notation) check(ctx context.Context, sigs []notation.Signature, target v1.Descriptor, artifactRef string) (Signature, []string, bool) {
	var revoked []string
	for _, s := range sigs {
		o, err := n.checker.Check(ctx, s, target, artifactRef)
		if err == nil {
			return Signature{Type: TypeNotation, Notation: &NotationSignature{Subject: o.Subject, Envelope: o.Envelope, SigningTime: o.SigningTime}}, nil, true
		}
		var rerr *notation.RevocationError
		if errors.As(err, &rerr) {
			revoked = append(revoked, rerr.Msg)
		}
	}
	return Signature{}, revoked, false
}
