package verify

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// PEMRoot is a trusted root given as PEM certificates and public keys, for
// a private Sigstore deployment that has no trusted_root.json.
type PEMRoot struct {
	// CertificateAuthorities: one PEM chain per CA, the root last.
	CertificateAuthorities []string
	// TimestampAuthorities: one PEM chain per TSA, the signing certificate
	// first and the root last.
	TimestampAuthorities []string
	// TransparencyLogs and CTLogs: PEM public keys.
	TransparencyLogs, CTLogs []string
}

// TrustedRootJSON builds the sigstore trusted_root.json that r describes.
// Its authorities and logs have no validity period: they are trusted at
// any time (logs from 1970 on). Each error names the list and position at fault.
func (r PEMRoot) TrustedRootJSON() ([]byte, error) {
	var errs []error
	var cas []root.CertificateAuthority
	if len(r.CertificateAuthorities) == 0 {
		errs = append(errs, errors.New("certificateAuthorities: list at least one CA certificate chain (PEM, root last)"))
	}
	for i, pem := range r.CertificateAuthorities {
		chain, err := pemChain(pem)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificateAuthorities[%d]: %w", i, err))
			continue
		}
		cas = append(cas, &root.FulcioCertificateAuthority{Root: chain[len(chain)-1], Intermediates: chain[:len(chain)-1]})
	}
	var tsas []root.TimestampingAuthority
	for i, pem := range r.TimestampAuthorities {
		chain, err := pemChain(pem)
		if err != nil {
			errs = append(errs, fmt.Errorf("timestampAuthorities[%d]: %w", i, err))
			continue
		}
		tsa := &root.SigstoreTimestampingAuthority{Root: chain[len(chain)-1]}
		if len(chain) > 1 {
			tsa.Leaf, tsa.Intermediates = chain[0], chain[1:len(chain)-1]
		}
		tsas = append(tsas, tsa)
	}
	tlogs, err := pemLogs("transparencyLogs", r.TransparencyLogs)
	errs = append(errs, err)
	ctlogs, err := pemLogs("ctLogs", r.CTLogs)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, ctlogs, tsas, tlogs)
	if err != nil {
		return nil, err
	}
	return json.Marshal(tr)
}

func pemChain(pem string) ([]*x509.Certificate, error) {
	chain, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(pem))
	if err != nil {
		return nil, fmt.Errorf("not PEM certificates: %v", err)
	}
	if len(chain) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return chain, nil
}

// pemLogs keys each log by its ID: the SHA-256 of its DER public key, as
// log entries name it.
func pemLogs(field string, keys []string) (map[string]*root.TransparencyLog, error) {
	logs := map[string]*root.TransparencyLog{}
	var errs []error
	for i, pem := range keys {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(pem))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: not a PEM public key: %v", field, i, err))
			continue
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %v", field, i, err))
			continue
		}
		id := sha256.Sum256(der)
		logs[fmt.Sprintf("%x", id)] = &root.TransparencyLog{
			ID: id[:], PublicKey: pub, HashFunc: crypto.SHA256, SignatureHashFunc: crypto.SHA256,
			ValidityPeriodStart: time.Unix(0, 0).UTC(), // sigstore-go requires a start for logs
		}
	}
	return logs, errors.Join(errs...)
}
