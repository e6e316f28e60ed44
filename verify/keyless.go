package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp/syntax"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"gatehouse.dev/gatehouse/verify/cosign"
	"gatehouse.dev/gatehouse/verify/sigstorebundle"
)

// Keyless trusts cosign v3 keyless signatures: sigstore bundles signed with
// a short-lived certificate from a certificate authority of a trusted root,
// issued to one of the identities.
type Keyless struct {
	// ID is "sha256:<hex>" over the trusted root, identities and threshold:
	// two authorities with the same ID are the same signer.
	ID         string
	Identities []Identity
	checker    *sigstorebundle.Keyless
}

// Identity is who a signing certificate must have been issued to: its OIDC
// issuer and its subject (the certificate's subject alternative name: an
// email address, or a URI such as a CI workflow's). Each is matched
// exactly, or by an anchored regular expression (^...$).
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}

func (id Identity) String() string {
	return fmt.Sprintf("subject %s from issuer %s", show(id.Subject, id.SubjectRegExp), show(id.Issuer, id.IssuerRegExp))
}

func show(exact, re string) string {
	if re != "" {
		return "matching " + re
	}
	return exact
}

// NewKeyless parses trustedRoot (a sigstore trusted_root.json) and returns
// a Keyless that accepts certificates matching any of identities, with
// entries in logs distinct transparency logs (0: RFC 3161 timestamps only).
// Nothing is fetched from the network.
func NewKeyless(trustedRoot []byte, identities []Identity, logs int) (*Keyless, error) {
	tr, err := root.NewTrustedRootFromJSON(trustedRoot)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w (want a sigstore trusted_root.json, as cosign trusted-root create writes it)", err)
	}
	var errs []error
	var certIDs []sgverify.CertificateIdentity
	for i, id := range identities {
		c, err := id.certificateIdentity()
		if err != nil {
			errs = append(errs, fmt.Errorf("identities[%d]: %w", i, err))
			continue
		}
		certIDs = append(certIDs, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	checker, err := sigstorebundle.NewKeyless(tr, certIDs, logs)
	if err != nil {
		return nil, err
	}
	return &Keyless{ID: keylessID(trustedRoot, identities, logs), Identities: identities, checker: checker}, nil
}

func keylessID(trustedRoot []byte, identities []Identity, logs int) string {
	ids, _ := json.Marshal(identities) // strings only: cannot fail
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00", logs, ids)
	h.Write(trustedRoot)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func (id Identity) certificateIdentity() (sgverify.CertificateIdentity, error) {
	var errs []error
	for _, f := range []struct{ name, exact, re, what string }{
		{"issuer", id.Issuer, id.IssuerRegExp, "the OIDC issuer, e.g. https://token.actions.githubusercontent.com"},
		{"subject", id.Subject, id.SubjectRegExp, "the certificate's email or URI, e.g. https://github.com/org/repo/.github/workflows/release.yaml@refs/heads/main"},
	} {
		switch {
		case f.exact == "" && f.re == "":
			errs = append(errs, fmt.Errorf("set %s (exact) or %sRegExp: %s", f.name, f.name, f.what))
		case f.exact != "" && f.re != "":
			errs = append(errs, fmt.Errorf("set %s or %sRegExp, not both", f.name, f.name))
		case f.re != "":
			if err := checkAnchored(f.re); err != nil {
				errs = append(errs, fmt.Errorf("%sRegExp %q: %w", f.name, f.re, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return sgverify.CertificateIdentity{}, err
	}
	return sgverify.NewShortCertificateIdentity(id.Issuer, id.IssuerRegExp, id.Subject, id.SubjectRegExp)
}

// checkAnchored accepts a regular expression only if it must match the
// whole value: ^ first and $ last at the top level, so "^a|b$" (which
// matches any value containing b at its end) is refused too.
func checkAnchored(re string) error {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return fmt.Errorf("not a valid regular expression (Go RE2 syntax): %v", err)
	}
	subs := []*syntax.Regexp{parsed}
	if parsed.Op == syntax.OpConcat {
		subs = parsed.Sub
	}
	if len(subs) < 2 || subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return fmt.Errorf("must match the whole value: start it with ^ and end it with $, grouping alternatives, e.g. %q", suggestAnchored(re))
	}
	return nil
}

func suggestAnchored(re string) string {
	re = strings.TrimSuffix(strings.TrimPrefix(re, "^"), "$")
	if strings.Contains(re, "|") {
		return "^(" + re + ")$"
	}
	return "^" + re + "$"
}

// check returns the signature of the first bundle that verifies.
func (k *Keyless) check(bundles [][]byte, digest v1.Hash) (Signature, bool) {
	for _, b := range bundles {
		if v, err := k.checker.Check(b, digest); err == nil {
			return keylessSignature(v, TypeCosignKeylessBundle), true
		}
	}
	return Signature{}, false
}

// checkLegacy returns the signature of the first legacy keyless signature
// (cosign v2 without a key) that verifies: its bundle of certificate, log
// entry and timestamp, then what its payload signs.
func (k *Keyless) checkLegacy(sigs []cosign.Signed, digest v1.Hash) (Signature, bool) {
	for _, s := range sigs {
		if len(s.Certificate) == 0 {
			continue
		}
		b, err := s.SigstoreBundle()
		if err != nil {
			continue
		}
		v, err := k.checker.CheckMessage(b, s.Payload)
		if err != nil || cosign.CheckPayload(s.Payload, digest) != nil {
			continue
		}
		return keylessSignature(v, TypeCosignKeyless), true
	}
	return Signature{}, false
}

func keylessSignature(v *sigstorebundle.Verified, typ string) Signature {
	c, e := v.Certificate, v.Certificate.Extensions
	s := Signature{Type: typ, Certificate: &Certificate{
		Subject: c.SubjectAlternativeName, Issuer: e.Issuer,
		GitHubWorkflowRepository: e.GithubWorkflowRepository, GitHubWorkflowRef: e.GithubWorkflowRef,
		GitHubWorkflowName: e.GithubWorkflowName, GitHubWorkflowSHA: e.GithubWorkflowSHA, GitHubWorkflowTrigger: e.GithubWorkflowTrigger,
		SourceRepositoryURI: e.SourceRepositoryURI, SourceRepositoryRef: e.SourceRepositoryRef, SourceRepositoryDigest: e.SourceRepositoryDigest,
		BuildSignerURI: e.BuildSignerURI, BuildTrigger: e.BuildTrigger, RunInvocationURI: e.RunInvocationURI, RunnerEnvironment: e.RunnerEnvironment,
	}}
	for _, l := range v.LogEntries {
		entry := LogEntry{LogID: l.LogID, Index: l.Index}
		if !l.IntegratedTime.IsZero() {
			entry.IntegratedTime = &l.IntegratedTime
		}
		s.LogEntries = append(s.LogEntries, entry)
	}
	for _, t := range v.Timestamps {
		source := "tsa"
		if t.Type == "Tlog" {
			source = "tlog"
		}
		s.Timestamps = append(s.Timestamps, Timestamp{Source: source, URI: t.URI, Time: t.Timestamp})
	}
	return s
}
