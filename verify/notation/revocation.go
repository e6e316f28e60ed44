package notation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
)

// CRL reason codes that do not revoke for good (RFC 5280 5.3.1).
const (
	reasonCertificateHold = 6 // revoked until a later entry says removeFromCRL
	reasonRemoveFromCRL   = 8 // a held certificate released
)

// CRL extensions (RFC 5280 5.2).
var (
	oidCRLNumber      = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidDeltaCRL       = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDP      = asn1.ObjectIdentifier{2, 5, 29, 28}
)

// checkScope refuses CRLs that do not list every revoked certificate of
// their issuer: delta CRLs, and CRLs whose issuing distribution point
// narrows them to some certificates or reasons (or makes them indirect).
// Since a certificate is checked against its issuer's newest CRL alone,
// such a list could hide a revocation the full CRL holds. It also refuses
// critical extensions it does not know, as RFC 5280 requires.
func checkScope(crl *x509.RevocationList) error {
	for _, ext := range crl.Extensions {
		switch {
		case ext.Id.Equal(oidDeltaCRL):
			return errors.New("a delta CRL: give the full (base) CRL; delta CRLs are not merged")
		case ext.Id.Equal(oidIssuingDP):
			if err := fullScope(ext.Value); err != nil {
				return err
			}
		case ext.Id.Equal(oidCRLNumber), ext.Id.Equal(oidAuthorityKeyID):
		case ext.Critical:
			return fmt.Errorf("unknown critical extension %s", ext.Id)
		}
	}
	return nil
}

// fullScope accepts an issuing distribution point that only names where the
// CRL is published ([0] distributionPoint), and refuses one that restricts
// the CRL to user, CA or attribute certificates, to some reasons, or makes
// it indirect.
func fullScope(der []byte) error {
	var fields []asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &fields); err != nil || len(rest) > 0 {
		return errors.New("malformed issuing distribution point")
	}
	for _, f := range fields {
		if f.Class != asn1.ClassContextSpecific || f.Tag != 0 {
			return errors.New("a partitioned CRL (its issuing distribution point limits it to some certificates or reasons, or makes it indirect): give the CA's full CRL")
		}
	}
	return nil
}

// oidInvalidityDate is the CRL entry extension saying since when the key is
// known to have been compromised (RFC 5280 5.3.2).
var oidInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}

// ParseCRLs reads certificate revocation lists: PEM "X509 CRL" blocks, or
// one DER-encoded CRL. Each must state when its successor is due
// (nextUpdate): without it, a stale list could never be told from a fresh
// one.
func ParseCRLs(data []byte) ([]*x509.RevocationList, error) {
	var ders [][]byte
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("PEM block %q: want \"X509 CRL\" blocks only", block.Type)
		}
		ders = append(ders, block.Bytes)
	}
	if len(ders) == 0 {
		if len(bytes.TrimSpace(data)) == 0 || bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----")) {
			return nil, errors.New("no CRL found (want \"-----BEGIN X509 CRL-----\" PEM blocks or one DER-encoded CRL)")
		}
		ders = [][]byte{data}
	}
	crls := make([]*x509.RevocationList, 0, len(ders))
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("CRL %d: %w", i+1, err)
		}
		if crl.NextUpdate.IsZero() {
			return nil, fmt.Errorf("CRL %d of %q has no nextUpdate: gatehouse could not tell when it goes stale; have the CA issue CRLs with a nextUpdate", i+1, crl.Issuer)
		}
		if err := checkScope(crl); err != nil {
			return nil, fmt.Errorf("CRL %d of %q: %w", i+1, crl.Issuer, err)
		}
		crls = append(crls, crl)
	}
	return crls, nil
}

// crlValidator answers notation-go's revocation checks from the CRLs an
// authority was given, with no I/O. A certificate is checked against the
// newest CRL its issuer signed, whatever distribution points the
// certificate names (they are never fetched):
//   - listed (and not released from hold): revoked;
//   - the issuer's newest CRL is past its nextUpdate, or CRLs name the
//     issuer but none is signed by it: unknown, which the trust policy
//     treats as a failure (fail closed);
//   - no CRL names the issuer: not checked, as notation does for a
//     certificate without revocation information.
type crlValidator struct {
	crls []*x509.RevocationList
	now  func() time.Time
}

// ValidateContext implements revocation.Validator.
func (v crlValidator) ValidateContext(_ context.Context, o revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	out := make([]*result.CertRevocationResult, len(o.CertChain))
	for i, cert := range o.CertChain {
		if i == len(o.CertChain)-1 { // a trust anchor is never revoked by a CRL
			out[i] = certResult(result.ResultNonRevokable, "", nil)
			continue
		}
		st := v.status(cert, o.CertChain[i+1], o.AuthenticSigningTime)
		out[i] = certResult(st.result, st.server, st.err)
	}
	return out, nil
}

func certResult(r result.Result, server string, err error) *result.CertRevocationResult {
	method := result.RevocationMethodCRL
	if r == result.ResultNonRevokable {
		method = result.RevocationMethodUnknown
	}
	return &result.CertRevocationResult{
		Result:           r,
		ServerResults:    []*result.ServerResult{{Result: r, Server: server, Error: err, RevocationMethod: method}},
		RevocationMethod: method,
	}
}

// status is the revocation status of one certificate, with what explains it.
type status struct {
	result result.Result
	server string // names the CRL: "CRL of <issuer> (thisUpdate ...)"
	err    error  // why the status is revoked or unknown
}

func (v crlValidator) status(cert, issuer *x509.Certificate, signingTime time.Time) status {
	crl, err := v.newestOf(issuer)
	switch {
	case err != nil:
		return status{result: result.ResultUnknown, err: err}
	case crl == nil:
		return status{result: result.ResultNonRevokable}
	}
	server := fmt.Sprintf("CRL of %q (thisUpdate %s)", crl.Issuer, crl.ThisUpdate.UTC().Format(time.RFC3339))
	if now := v.now(); now.After(crl.NextUpdate) {
		return status{result: result.ResultUnknown, server: server, err: fmt.Errorf("the %s is stale: its nextUpdate %s has passed, so certificates revoked since are not in it; load a fresh CRL", server, crl.NextUpdate.UTC().Format(time.RFC3339))}
	}
	entry, err := revokedEntry(cert, crl, signingTime)
	switch {
	case err != nil:
		return status{result: result.ResultUnknown, server: server, err: err}
	case entry != nil:
		return status{result: result.ResultRevoked, server: server, err: fmt.Errorf("certificate %q (serial %s) was revoked at %s%s, per the %s", cert.Subject, cert.SerialNumber.Text(16), entry.RevocationTime.UTC().Format(time.RFC3339), reasonText(entry.ReasonCode), server)}
	}
	return status{result: result.ResultOK, server: server}
}

// newestOf returns the newest CRL signed by issuer, nil when no CRL names
// it. CRLs that name the issuer but are not signed by it are ignored, so a
// forged list cannot shadow the real one; if only such lists exist, the
// status cannot be known.
func (v crlValidator) newestOf(issuer *x509.Certificate) (*x509.RevocationList, error) {
	var newest *x509.RevocationList
	named := false
	for _, crl := range v.crls {
		if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
			continue
		}
		named = true
		if crl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		if newest == nil || crl.ThisUpdate.After(newest.ThisUpdate) {
			newest = crl
		}
	}
	if named && newest == nil {
		return nil, fmt.Errorf("the CRLs that name %q as issuer are not signed by its certificate; load a CRL that CA signed", issuer.Subject)
	}
	return newest, nil
}

// revokedEntry returns the entry that revokes cert in crl, or nil. As in
// notation-core-go: a key compromised only after the authentic signing time
// (invalidityDate) leaves the signature valid, and a certificate on hold is
// revoked unless a later entry releases it.
func revokedEntry(cert *x509.Certificate, crl *x509.RevocationList, signingTime time.Time) (*x509.RevocationListEntry, error) {
	var hold *x509.RevocationListEntry
	for i := range crl.RevokedCertificateEntries {
		e := &crl.RevokedCertificateEntries[i]
		if e.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			continue
		}
		invalidity, err := invalidityDate(e)
		if err != nil {
			return nil, err
		}
		if !signingTime.IsZero() && !invalidity.IsZero() && signingTime.Before(invalidity) {
			return nil, nil
		}
		switch e.ReasonCode {
		case reasonCertificateHold, reasonRemoveFromCRL:
			if hold == nil || hold.RevocationTime.Before(e.RevocationTime) {
				hold = e
			}
		default:
			return e, nil
		}
	}
	if hold != nil && hold.ReasonCode == reasonCertificateHold {
		return hold, nil
	}
	return nil, nil
}

func invalidityDate(e *x509.RevocationListEntry) (time.Time, error) {
	for _, ext := range e.Extensions {
		if !ext.Id.Equal(oidInvalidityDate) {
			continue
		}
		var t time.Time
		if rest, err := asn1.UnmarshalWithParams(ext.Value, &t, "generalized"); err != nil || len(rest) > 0 {
			return time.Time{}, fmt.Errorf("CRL entry for serial %s: invalidityDate is malformed", e.SerialNumber.Text(16))
		}
		return t, nil
	}
	return time.Time{}, nil
}

var reasons = map[int]string{
	1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged", 4: "superseded",
	5: "cessationOfOperation", 6: "certificateHold", 9: "privilegeWithdrawn", 10: "aACompromise",
}

func reasonText(code int) string {
	if r, ok := reasons[code]; ok {
		return " (" + r + ")"
	}
	return ""
}

// explain re-runs the check on a chain notation-go refused for its
// revocation status and returns what the CRLs say, for the deny message.
func (v crlValidator) explain(chain []*x509.Certificate, signingTime time.Time) error {
	var msgs []string
	for i := 0; i+1 < len(chain); i++ {
		if st := v.status(chain[i], chain[i+1], signingTime); st.err != nil {
			msgs = append(msgs, st.err.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}
