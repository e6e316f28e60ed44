package stack

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// PrivateSigstore is a private Sigstore deployment without a transparency
// log, as air-gapped teams run one: a certificate authority that issues
// Fulcio-style code-signing certificates (OIDC issuer extension, the
// identity as a subject alternative name) and an RFC 3161 timestamp
// authority served over HTTP on loopback. The real cosign signs with its
// certificates and timestamps; TrustedRoot is what a policy trusts.
type PrivateSigstore struct {
	caCert, tsaRoot, tsaLeaf *x509.Certificate
	caKey, tsaKey            *ecdsa.PrivateKey
	// TSA is the timestamp authority's URL (cosign --timestamp-server-url).
	TSA    string
	server *http.Server
}

// Fulcio's OIDC issuer extensions: the original (raw string) and v2 (DER).
var (
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
)

// NewPrivateSigstore creates the CA and starts the timestamp authority.
func NewPrivateSigstore() (*PrivateSigstore, error) {
	p := &PrivateSigstore{}
	var err error
	now := time.Now()
	if p.caCert, p.caKey, err = selfSigned("e2e fulcio", now); err != nil {
		return nil, err
	}
	if p.tsaRoot, p.tsaKey, err = selfSigned("e2e tsa", now); err != nil {
		return nil, err
	}
	// The timestamping EKU must be the leaf's only one, and critical.
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if p.tsaLeaf, err = issue(&x509.Certificate{
		Subject: pkix.Name{CommonName: "e2e tsa leaf"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}, p.tsaRoot, leafKey.Public(), p.tsaKey); err != nil {
		return nil, err
	}
	p.tsaKey = leafKey
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.TSA = "http://" + ln.Addr().String() + "/api/v1/timestamp"
	p.server = &http.Server{Handler: http.HandlerFunc(p.timestamp), ReadHeaderTimeout: 5 * time.Second}
	go p.server.Serve(ln) //nolint:errcheck // ends with Close
	return p, nil
}

// Close stops the timestamp authority.
func (p *PrivateSigstore) Close() error { return p.server.Close() }

func (p *PrivateSigstore) timestamp(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req, err := timestamp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ts := timestamp.Timestamp{
		HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Nonce: req.Nonce,
		Time: time.Now(), Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}, AddTSACertificate: req.Certificates,
	}
	resp, err := ts.CreateResponseWithOpts(p.tsaLeaf, p.tsaKey, crypto.SHA256)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(resp) //nolint:errcheck // the client sees a short answer
}

// TrustedRoot is the sigstore trusted_root.json of the deployment: its CA
// and its timestamp authority, no transparency log.
func (p *PrivateSigstore) TrustedRoot() (string, error) {
	start := p.caCert.NotBefore
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{Root: p.caCert, ValidityPeriodStart: start, URI: "https://fulcio.e2e.invalid"}},
		nil,
		[]root.TimestampingAuthority{&root.SigstoreTimestampingAuthority{Root: p.tsaRoot, Leaf: p.tsaLeaf, ValidityPeriodStart: start, URI: p.TSA}},
		map[string]*root.TransparencyLog{})
	if err != nil {
		return "", err
	}
	js, err := json.Marshal(tr)
	return string(js), err
}

// Certify issues a code-signing certificate for the public key publicPEM
// to subject (a URI, such as a CI workflow's, or an email address) as the
// OIDC issuer issuer vouched, and writes it and the chain to dir. It
// returns the cosign sign flags that attach them.
func (p *PrivateSigstore) Certify(publicPEM, subject, issuer, dir string) ([]string, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(publicPEM))
	if err != nil {
		return nil, err
	}
	v2, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidIssuerV1, Value: []byte(issuer)}, {Id: oidIssuerV2, Value: v2}},
	}
	if u, err := urlOf(subject); err == nil {
		tmpl.URIs = u
	} else {
		tmpl.EmailAddresses = []string{subject}
	}
	cert, err := issue(tmpl, p.caCert, pub, p.caKey)
	if err != nil {
		return nil, err
	}
	certPath, chainPath := filepath.Join(dir, "signer.crt"), filepath.Join(dir, "chain.crt")
	if err := os.WriteFile(certPath, pemCert(cert), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(chainPath, pemCert(p.caCert), 0o644); err != nil {
		return nil, err
	}
	return []string{"--certificate", certPath, "--certificate-chain", chainPath, "--timestamp-server-url", p.TSA}, nil
}

func selfSigned(cn string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	cert, err := issue(tmpl, tmpl, key.Public(), key)
	return cert, key, err
}

func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func urlOf(subject string) ([]*url.URL, error) {
	u, err := url.Parse(subject)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("%q is not a URI", subject)
	}
	return []*url.URL{u}, nil
}

// PEMs returns the CA certificate and the timestamp authority's chain
// (signing certificate first), for a trusted root given as PEM.
func (p *PrivateSigstore) PEMs() (ca, tsa string) {
	return string(pemCert(p.caCert)), string(pemCert(p.tsaLeaf)) + string(pemCert(p.tsaRoot))
}
