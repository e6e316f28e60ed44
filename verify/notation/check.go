package notation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
	_ "github.com/notaryproject/notation-core-go/signature/cose" // registers the COSE envelope
	_ "github.com/notaryproject/notation-core-go/signature/jws"  // registers the JWS envelope
	notationgo "github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Verification levels an authority may use. "audit" and "skip" are
// refused: under both, notation-go accepts a signature whatever its
// certificate, so anyone could satisfy the authority.
const (
	LevelStrict     = "strict"
	LevelPermissive = "permissive"
)

// wildcard is the trust policy value that matches any registry scope or
// any identity.
const wildcard = "*"

// Config is what one authority trusts.
type Config struct {
	// Stores hold the trusted certificates: at least one ca or
	// signingAuthority store.
	Stores []Store
	// TrustedIdentities are the "x509.subject: ..." values a signing
	// certificate may have; "*" is refused.
	TrustedIdentities []string
	// Level is LevelStrict ("" means strict) or LevelPermissive.
	Level string
	// CRLs are revocation lists of the certificate authorities in signing
	// and timestamping chains (see ParseCRLs). With any, revocation is
	// enforced at both levels, from these lists alone; with none, it is
	// not checked. Nothing is ever fetched.
	CRLs []*x509.RevocationList
	// Now is the clock CRLs are judged stale by (nil: time.Now).
	Now func() time.Time
}

// Verifier checks notation signatures for one authority. It is built once,
// at policy load, and safe for concurrent use.
type Verifier struct {
	v   notationgo.Verifier
	crl *crlValidator // nil: revocation is not checked
}

// Outcome is what a verified signature says about its signer.
type Outcome struct {
	// Subject is the signing certificate's subject, e.g. "CN=release,O=example,C=US".
	Subject string
	// Envelope is "jws" or "cose".
	Envelope string
	// SigningTime is the signing time the signature claims (its authentic
	// signing time under notary.x509.signingAuthority).
	SigningTime time.Time
}

// New validates c with notation-go's own trust policy validation and
// returns a Verifier for it.
func New(c Config) (*Verifier, error) {
	doc, err := trustPolicy(c)
	if err != nil {
		return nil, err
	}
	store, err := newMemoryStore(c.Stores)
	if err != nil {
		return nil, err
	}
	var rv revocation.Validator = offline{}
	var crl *crlValidator
	if len(c.CRLs) > 0 {
		for i, l := range c.CRLs {
			if l.NextUpdate.IsZero() {
				return nil, fmt.Errorf("crls[%d] of %q has no nextUpdate", i, l.Issuer)
			}
		}
		crl = &crlValidator{crls: c.CRLs, now: c.Now}
		if crl.now == nil {
			crl.now = time.Now
		}
		rv = crl
	}
	v, err := verifier.NewWithOptions(doc, store, nil, verifier.VerifierOptions{
		RevocationCodeSigningValidator:  rv,
		RevocationTimestampingValidator: rv,
	})
	if err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	return &Verifier{v: v, crl: crl}, nil
}

// trustPolicy builds the one-statement trust policy document of c: every
// registry (gatehouse policies scope images themselves), c's stores,
// identities and level; revocation enforced when c has CRLs, else skipped.
func trustPolicy(c Config) (*trustpolicy.Document, error) {
	var errs []error
	switch c.Level {
	case "":
		c.Level = LevelStrict
	case LevelStrict, LevelPermissive:
	case trustpolicy.LevelAudit.Name, trustpolicy.LevelSkip.Name:
		errs = append(errs, fmt.Errorf("level %q: use strict or permissive; %s accepts a signature whatever certificate made it, so anyone could satisfy this authority (for a policy that only records failures, set spec.mode: audit)", c.Level, c.Level))
	default:
		errs = append(errs, fmt.Errorf("level %q: use strict (default) or permissive", c.Level))
	}
	if len(c.TrustedIdentities) == 0 {
		errs = append(errs, errors.New("trustedIdentities: list the certificate subjects to trust, e.g. \"x509.subject: C=US, O=example, CN=release\""))
	}
	if slices.Contains(c.TrustedIdentities, wildcard) {
		errs = append(errs, errors.New("trustedIdentities: \"*\" is refused: it lets anyone holding a certificate from the trust stores sign; pinning the identities is the point, so list the certificate subjects to trust"))
	}
	var stores []string
	signing := false
	for _, s := range c.Stores {
		stores = append(stores, storeKey(s.Type, s.Name))
		signing = signing || s.Type == truststore.TypeCA || s.Type == truststore.TypeSigningAuthority
	}
	if !signing {
		errs = append(errs, errors.New("trustStores: list at least one store of type ca or signingAuthority"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	doc := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:           "gatehouse",
			RegistryScopes: []string{wildcard},
			SignatureVerification: trustpolicy.SignatureVerification{
				VerificationLevel: c.Level,
				Override:          map[trustpolicy.ValidationType]trustpolicy.ValidationAction{trustpolicy.TypeRevocation: revocationAction(c)},
			},
			TrustStores:       stores,
			TrustedIdentities: c.TrustedIdentities,
		}},
	}
	if err := doc.Validate(); err != nil {
		return nil, err // notation-go's message names the trust policy statement
	}
	return doc, nil
}

// revocationAction is what the trust policy does about revocation: enforce
// it when the authority has CRLs (also under permissive, which would only
// log it: a CRL given is a CRL meant), skip it otherwise, since checking
// would need OCSP or CRL servers gatehouse never reaches.
func revocationAction(c Config) trustpolicy.ValidationAction {
	if len(c.CRLs) > 0 {
		return trustpolicy.ActionEnforce
	}
	return trustpolicy.ActionSkip
}

// RevocationError is a signature refused because a certificate of its
// chain is revoked, or because the CRLs could not tell (stale or not
// signed by the issuer).
type RevocationError struct{ Msg string }

func (e *RevocationError) Error() string { return e.Msg }

// revocationFailure returns a RevocationError when out failed on
// revocation, nil otherwise.
func (v *Verifier) revocationFailure(out *notationgo.VerificationOutcome) error {
	if v.crl == nil || out == nil || out.EnvelopeContent == nil {
		return nil
	}
	for _, r := range out.VerificationResults {
		switch {
		case r.Error == nil:
		case r.Type == trustpolicy.TypeRevocation:
			info := out.EnvelopeContent.SignerInfo
			signingTime, _ := info.AuthenticSigningTime()
			if err := v.crl.explain(info.CertificateChain, signingTime); err != nil {
				return &RevocationError{Msg: err.Error()}
			}
			return &RevocationError{Msg: r.Error.Error()}
		case r.Type == trustpolicy.TypeAuthenticTimestamp && strings.Contains(r.Error.Error(), "timestamping certificate with subject"):
			return &RevocationError{Msg: r.Error.Error() + " (per the CRLs of the authority)"}
		}
	}
	return nil
}

// Check verifies sig for the image manifest target, named by artifactRef
// ("registry/repository@sha256:..."). It does no I/O.
func (v *Verifier) Check(ctx context.Context, sig Signature, target v1.Descriptor, artifactRef string) (Outcome, error) {
	desc := ocispec.Descriptor{MediaType: string(target.MediaType), Digest: digest.Digest(target.Digest.String()), Size: target.Size}
	out, err := v.v.Verify(ctx, desc, sig.Envelope, notationgo.VerifierVerifyOptions{ArtifactReference: artifactRef, SignatureMediaType: sig.MediaType})
	if err != nil {
		if rerr := v.revocationFailure(out); rerr != nil {
			return Outcome{}, rerr
		}
		return Outcome{}, err
	}
	info := out.EnvelopeContent.SignerInfo
	if len(info.CertificateChain) == 0 { // verified signatures have one; never trust a nil
		return Outcome{}, errors.New("verified signature has no certificate chain")
	}
	o := Outcome{Subject: info.CertificateChain[0].Subject.String(), Envelope: "jws", SigningTime: info.SignedAttributes.SigningTime}
	if sig.MediaType == MediaTypeCOSE {
		o.Envelope = "cose"
	}
	return o, nil
}

// offline answers revocation checks of an authority without CRLs: every
// certificate is reported as having no revocation method, which
// notation-go treats as not revoked. The trust policy skips revocation of
// signing certificates, so this answers only for the certificates of RFC
// 3161 timestamp authorities, which notation-go checks whatever the policy
// says.
type offline struct{}

func (offline) ValidateContext(_ context.Context, o revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	out := make([]*result.CertRevocationResult, len(o.CertChain))
	for i := range out {
		out[i] = &result.CertRevocationResult{Result: result.ResultNonRevokable}
	}
	return out, nil
}
