package notation

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"

	"github.com/notaryproject/notation-go/verifier/truststore"
)

// Store is one named trust store of an authority.
type Store struct {
	// Type is truststore.TypeCA, TypeSigningAuthority or TypeTSA.
	Type truststore.Type
	// Name is unique among the stores of its type.
	Name string
	// Certificates are the trusted certificates, at least one.
	Certificates []*x509.Certificate
}

// memoryStore is a truststore.X509TrustStore held in memory, built and
// checked once when the policy loads.
type memoryStore map[string][]*x509.Certificate

func storeKey(t truststore.Type, name string) string { return string(t) + ":" + name }

// newMemoryStore checks the stores as notation's file-based trust store
// checks the certificates it reads: CA or self-signed certificates, and
// root CA certificates only in tsa stores.
func newMemoryStore(stores []Store) (memoryStore, error) {
	m := memoryStore{}
	for _, s := range stores {
		key := storeKey(s.Type, s.Name)
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("trust store %s is named twice", key)
		}
		if err := truststore.ValidateCertificates(s.Certificates); err != nil {
			return nil, fmt.Errorf("trust store %s: %w", key, err)
		}
		if s.Type == truststore.TypeTSA {
			for _, c := range s.Certificates {
				if !bytes.Equal(c.RawSubject, c.RawIssuer) || c.CheckSignatureFrom(c) != nil {
					return nil, fmt.Errorf("trust store %s: certificate with subject %q is not a root CA certificate", key, c.Subject)
				}
			}
		}
		m[key] = s.Certificates
	}
	return m, nil
}

// GetCertificates implements truststore.X509TrustStore.
func (m memoryStore) GetCertificates(_ context.Context, t truststore.Type, name string) ([]*x509.Certificate, error) {
	certs, ok := m[storeKey(t, name)]
	if !ok {
		return nil, truststore.TrustStoreError{Msg: fmt.Sprintf("the trust store %q of type %q does not exist", name, t)}
	}
	return certs, nil
}
