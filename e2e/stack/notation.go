package stack

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/e2e/env"
)

// NotationKeyName names the key NewNotation generates, and its trust store.
const NotationKeyName = "gatehouse-e2e"

// Notary Project signature media types, as notation v1.3 writes them: the
// signature manifest's artifactType (and, with the tag schema, its config
// media type), and its single layer, the envelope.
const (
	NotationArtifactType = "application/vnd.cncf.notary.signature"
	NotationJWS          = "application/jose+json"
	NotationCOSE         = "application/cose"
)

// Notation runs the real notation CLI with a test key and certificate it
// generated. Its configuration (keys, trust store, trust policy) lives in
// <dir>/config/notation; HOME and the XDG directories point into dir.
type Notation struct {
	bin, dir string
	// Name is the signing key's name and the trust store's: ca:<Name>.
	Name string
	// CertPEM is the self-signed RSA-2048 certificate (CN=<Name>, O=Notary,
	// L=Seattle, ST=WA, C=US; code signing, valid for 24 hours) that
	// notation put in the trust store ca:<Name>. It is both the signing
	// certificate and the root a verifier trusts.
	CertPEM string
	Cert    *x509.Certificate
	// Subject is the certificate's subject as a notation trusted identity:
	// "x509.subject: CN=<Name>,O=Notary,L=Seattle,ST=WA,C=US".
	Subject string
}

// NewNotation generates a test key and certificate with
// `notation cert generate-test --default <NotationKeyName>`, which also adds
// the certificate to the trust store ca:<NotationKeyName>.
func NewNotation(ctx context.Context, bin, dir string) (*Notation, error) {
	if bin == "" {
		return nil, errors.New("notation not found: run make tools")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	n := &Notation{bin: bin, dir: dir, Name: NotationKeyName}
	if _, err := n.run(ctx, "cert", "generate-test", "--default", n.Name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(env.NotationCAFile(dir, n.Name))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", env.NotationCAFile(dir, n.Name))
	}
	if n.Cert, err = x509.ParseCertificate(block.Bytes); err != nil {
		return nil, err
	}
	n.CertPEM = string(pem.EncodeToMemory(block))
	n.Subject = env.NotationSubject(n.Cert)
	return n, nil
}

// AddKey adds a signing key to notation's signingkeys.json under name, as
// `notation key` lists keys that `notation cert generate-test` made: keyPEM
// is the private key, chainPEM the signing certificate followed by its
// issuers up to the root. Sign with it by passing "--key", name.
func (n *Notation) AddKey(name, keyPEM, chainPEM string) error {
	cfg := env.NotationConfigDir(n.dir)
	keyPath, certPath := filepath.Join(cfg, "localkeys", name+".key"), filepath.Join(cfg, "localkeys", name+".crt")
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, []byte(keyPEM), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(certPath, []byte(chainPEM), 0o600); err != nil {
		return err
	}
	file := filepath.Join(cfg, "signingkeys.json")
	var keys struct {
		Default *string          `json:"default,omitempty"`
		Keys    []map[string]any `json:"keys"`
	}
	if data, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(data, &keys); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	keys.Keys = append(keys.Keys, map[string]any{"name": name, "keyPath": keyPath, "certPath": certPath})
	data, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o600)
}

// TrustStore is the trust store holding CertPEM, as a trust policy names it.
func (n *Notation) TrustStore() string { return "ca:" + n.Name }

// Sign signs ref (repo@digest) with the default key over plain HTTP, with
// the envelope format "jws" or "cose". The signature goes to the registry's
// referrers API when it has one and extra holds --force-referrers-tag=false;
// by default (notation's --force-referrers-tag=true) notation also, or on a
// registry without the API only, indexes it under the sha256-<hex> tag.
func (n *Notation) Sign(ctx context.Context, ref, envelope string, extra ...string) error {
	args := append([]string{"sign", "--insecure-registry", "--signature-format", envelope}, extra...)
	_, err := n.run(ctx, append(args, ref)...)
	return err
}

// Verify writes a strict trust policy for all registries (registryScopes
// "*") trusting TrustStore and Subject, then runs `notation verify
// --insecure-registry ref`. It returns notation's output.
func (n *Notation) Verify(ctx context.Context, ref string, extra ...string) ([]byte, error) {
	p := env.NotationTrustPolicy{
		Name:              n.Name,
		RegistryScopes:    []string{"*"},
		TrustStores:       []string{n.TrustStore()},
		TrustedIdentities: []string{n.Subject},
	}
	p.SignatureVerification.Level = "strict"
	if err := env.WriteNotationTrustPolicy(n.dir, p); err != nil {
		return nil, err
	}
	args := append([]string{"verify", "--insecure-registry"}, extra...)
	return n.run(ctx, append(args, ref)...)
}

func (n *Notation) run(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin, args...)
	cmd.Dir = n.dir
	cmd.Env = env.NotationEnv(n.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("notation %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out, nil
}
