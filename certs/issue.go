package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CA is a certificate authority: its certificate and key, plus the
// certificates of previous CAs that clients must still trust while
// certificates they issued are in use.
type CA struct {
	Cert     *x509.Certificate
	Key      *ecdsa.PrivateKey
	Previous []*x509.Certificate
}

// NewCA creates a CA valid from now for validity.
func NewCA(now time.Time, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("gatehouse-ca@%d", now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue creates a serving certificate for hosts (DNS names or IPs).
func (ca *CA) Issue(hosts []string, now time.Time, validity time.Duration) (*tls.Certificate, error) {
	if len(hosts) == 0 {
		return nil, errors.New("no host names for the serving certificate")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// Bundle is the PEM the webhook configurations trust: the current CA and
// every previous one that has not expired.
func (ca *CA) Bundle(now time.Time) []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	for _, c := range ca.Previous {
		if now.Before(c.NotAfter) {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	return out
}

// Trusts reports whether leaf was issued by the current CA or by a previous
// one that has not expired, i.e. whether clients given Bundle accept it.
func (ca *CA) Trusts(leaf *x509.Certificate, now time.Time) bool {
	if leaf == nil {
		return false
	}
	for _, c := range append([]*x509.Certificate{ca.Cert}, ca.Previous...) {
		if now.Before(c.NotAfter) && leaf.CheckSignatureFrom(c) == nil {
			return true
		}
	}
	return false
}

// Encode returns the PEM of the CA bundle and of the key.
func (ca *CA) Encode(now time.Time) (certPEM, keyPEM []byte, err error) {
	der, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		return nil, nil, err
	}
	return ca.Bundle(now), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// DecodeCA reads what Encode wrote: the first certificate is the current CA.
func DecodeCA(certPEM, keyPEM []byte) (*CA, error) {
	var certs []*x509.Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		certs = append(certs, c)
	}
	kb, _ := pem.Decode(keyPEM)
	if len(certs) == 0 || kb == nil {
		return nil, errors.New("CA secret: want PEM certificate(s) and an EC private key")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if !key.PublicKey.Equal(certs[0].PublicKey) {
		return nil, errors.New("CA secret: key does not match the first certificate")
	}
	return &CA{Cert: certs[0], Key: key, Previous: certs[1:]}, nil
}

// Rotate returns a new CA that keeps ca (and its unexpired predecessors) as
// previous, so certificates ca issued stay trusted until they expire.
func (ca *CA) Rotate(now time.Time, validity time.Duration) (*CA, error) {
	next, err := NewCA(now, validity)
	if err != nil {
		return nil, err
	}
	next.Previous = append([]*x509.Certificate{ca.Cert}, ca.Previous...)
	return next, nil
}

// dueForRenewal reports whether less than a third of the lifetime
// [notBefore, notAfter] is left at now.
func dueForRenewal(notBefore, notAfter, now time.Time) bool {
	life := notAfter.Sub(notBefore)
	return notAfter.Sub(now) < life/3
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
