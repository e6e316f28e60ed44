package verifytest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	notationgo "github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of Notary Project signatures.
const (
	NotationArtifactType = "application/vnd.cncf.notary.signature"
	NotationJWS          = "application/jose+json"
	NotationCOSE         = "application/cose"
)

// NotationCA is a root certificate authority for notation signing
// certificates: what a trust store of type ca holds.
type NotationCA struct {
	Cert *x509.Certificate
	// PEM is Cert, PEM-encoded: the trust store's certificates.
	PEM   string
	key   *ecdsa.PrivateKey
	chain []*x509.Certificate // Cert and its issuers up to the root
}

// NotationSigner is a leaf code-signing certificate of a NotationCA and its key.
type NotationSigner struct {
	Cert  *x509.Certificate
	chain []*x509.Certificate
	key   *ecdsa.PrivateKey
}

// NewNotationCA makes a self-signed root CA named cn.
func NewNotationCA(t testing.TB, cn string) *NotationCA {
	t.Helper()
	key := newECKey(t)
	tmpl := caTemplate(cn, 1)
	cert := createCert(t, tmpl, tmpl, &key.PublicKey, key)
	return &NotationCA{Cert: cert, PEM: certPEM(cert), key: key, chain: []*x509.Certificate{cert}}
}

// caTemplate is a CA certificate named cn, valid for a day, that may sign
// certificates and CRLs.
func caTemplate(cn string, serial int64) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{Country: []string{"US"}, Organization: []string{"example"}, CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
}

// Intermediate issues an intermediate CA named cn under ca.
func (ca *NotationCA) Intermediate(t testing.TB, cn string) *NotationCA {
	t.Helper()
	key := newECKey(t)
	cert := createCert(t, caTemplate(cn, time.Now().UnixNano()), ca.Cert, &key.PublicKey, ca.key)
	return &NotationCA{Cert: cert, PEM: certPEM(cert), key: key, chain: append([]*x509.Certificate{cert}, ca.chain...)}
}

// CRL returns a PEM certificate revocation list signed by ca, issued at
// thisUpdate, due to be replaced at nextUpdate, listing entries.
func (ca *NotationCA) CRL(t testing.TB, thisUpdate, nextUpdate time.Time, entries ...x509.RevocationListEntry) string {
	t.Helper()
	return ca.CRLWith(t, thisUpdate, nextUpdate, nil, entries...)
}

// CRLWith is CRL with extra CRL extensions.
func (ca *NotationCA) CRLWith(t testing.TB, thisUpdate, nextUpdate time.Time, extensions []pkix.Extension, entries ...x509.RevocationListEntry) string {
	t.Helper()
	tmpl := &x509.RevocationList{
		Number:                    big.NewInt(thisUpdate.UnixNano()),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
		ExtraExtensions:           extensions,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
}

// Revoked is the CRL entry revoking cert at time at, for reason (an RFC
// 5280 reason code; 0 is unspecified).
func Revoked(cert *x509.Certificate, at time.Time, reason int) x509.RevocationListEntry {
	return x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: at, ReasonCode: reason}
}

func certPEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// Signer issues a code-signing certificate with the given subject, valid
// from an hour ago until notAfter; edits, if any, change its template.
func (ca *NotationCA) Signer(t testing.TB, subject pkix.Name, notAfter time.Time, edits ...func(*x509.Certificate)) *NotationSigner {
	t.Helper()
	key := newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               subject,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	for _, edit := range edits {
		edit(tmpl)
	}
	cert := createCert(t, tmpl, ca.Cert, &key.PublicKey, ca.key)
	return &NotationSigner{Cert: cert, chain: append([]*x509.Certificate{cert}, ca.chain...), key: key}
}

// KeyPEM is the signer's private key, PKCS #8 PEM, as notation reads a
// local signing key.
func (s *NotationSigner) KeyPEM(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// ChainPEM is the signing certificate followed by its issuers up to the
// root, PEM-encoded, as notation reads a local signing certificate.
func (s *NotationSigner) ChainPEM() string {
	var out string
	for _, c := range s.chain {
		out += certPEM(c)
	}
	return out
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func createCert(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// NotationEnvelope signs target with notation-go's signer, as notation sign
// does, in the envelope format mediaType (NotationJWS or NotationCOSE).
func NotationEnvelope(t testing.TB, s *NotationSigner, target v1.Descriptor, mediaType string) []byte {
	t.Helper()
	sg, err := signer.NewGenericSigner(s.key, s.chain)
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: string(target.MediaType), Digest: digest.Digest(target.Digest.String()), Size: target.Size}
	env, _, err := sg.Sign(context.Background(), desc, notationgo.SignerSignOptions{SignatureMediaType: mediaType})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// NotationManifest says how AttachNotation types the signature manifest.
type NotationManifest int

// Signature manifest styles.
const (
	// NotationArtifact: artifactType set, empty config (notation 1.x on
	// OCI 1.1 registries).
	NotationArtifact NotationManifest = iota
	// NotationConfig: no artifactType, the config media type says it is a
	// signature (registries that drop artifactType).
	NotationConfig
)

// AttachNotation pushes envelope as a signature manifest whose subject is
// the image subject in repo.
func AttachNotation(t testing.TB, repo string, subject v1.Hash, envelope []byte, mediaType string, style NotationManifest) {
	t.Helper()
	img, err := name.NewDigest(repo + "@" + subject.String())
	if err != nil {
		t.Fatal(err)
	}
	head := Descriptor(t, repo, subject)
	configType, artifactType := types.MediaType("application/vnd.oci.empty.v1+json"), NotationArtifactType
	if style == NotationConfig {
		configType, artifactType = NotationArtifactType, ""
	}
	config := static.NewLayer([]byte("{}"), configType)
	layer := static.NewLayer(envelope, types.MediaType(mediaType))
	for _, l := range []v1.Layer{config, layer} {
		if err := remote.WriteLayer(img.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	cd, _ := config.Digest()
	ld, _ := layer.Digest()
	m := referrer{Manifest: v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: configType, Digest: cd, Size: 2},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(mediaType), Digest: ld, Size: int64(len(envelope))}},
		Subject:       &v1.Descriptor{MediaType: head.MediaType, Digest: head.Digest, Size: head.Size},
	}, ArtifactType: artifactType}
	raw, err := m.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(img.Context().Digest(h.String()), m); err != nil {
		t.Fatal(err)
	}
}

// SignNotation signs the image digest in repo with s and attaches the
// signature, as notation sign does.
func SignNotation(t testing.TB, repo string, d v1.Hash, s *NotationSigner, mediaType string) {
	t.Helper()
	AttachNotation(t, repo, d, NotationEnvelope(t, s, Descriptor(t, repo, d), mediaType), mediaType, NotationArtifact)
}

// Descriptor returns the descriptor (media type, digest, size) of the
// manifest d in repo, as a signature's subject names it.
func Descriptor(t testing.TB, repo string, d v1.Hash) v1.Descriptor {
	t.Helper()
	ref, err := name.NewDigest(repo + "@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	head, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{MediaType: head.MediaType, Digest: head.Digest, Size: head.Size}
}
