package verify

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Authority is one trusted signer, compiled from a policy.
type Authority struct {
	// ID is unique across loaded policies: "<policy>/<authority name>".
	ID string
	// Key verifies cosign signatures made with a key pair.
	Key *Key
	// Keyless verifies cosign v3 keyless signatures (sigstore bundles
	// signed with Fulcio certificates).
	Keyless *Keyless
	// Notation verifies Notary Project signatures. Exactly one of Key,
	// Keyless and Notation is set.
	Notation *Notation
}

// SignerID identifies what the authority trusts: its key's ID, or its
// keyless or notation ID. Two authorities with the same SignerID are one signer.
func (a Authority) SignerID() string {
	switch {
	case a.Key != nil:
		return a.Key.ID
	case a.Keyless != nil:
		return a.Keyless.ID
	case a.Notation != nil:
		return a.Notation.ID
	}
	return ""
}

// Key is a public key ready to verify signatures, in both cosign formats.
type Key struct {
	ID       string // "sha256:<hex of the PKIX encoding>"
	verifier signature.Verifier
	trusted  root.TrustedMaterial // the same key, for sigstore bundles
}

// ParseKey reads a PEM public key (ECDSA, RSA or Ed25519) and the hash the
// signatures were made over ("" means sha256).
func ParseKey(pemData, hashAlgorithm string) (*Key, error) {
	h, err := hashFunc(hashAlgorithm)
	if err != nil {
		return nil, err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(pemData))
	if err != nil {
		return nil, fmt.Errorf("public key: %w (want a PEM block \"PUBLIC KEY\", as written by cosign generate-key-pair)", err)
	}
	v, err := signature.LoadVerifier(pub, h)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	sum := sha256.Sum256(der)
	expiring := root.NewExpiringKey(v, time.Time{}, time.Time{}) // a key pair has no validity period
	trusted := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return expiring, nil })
	return &Key{ID: "sha256:" + hex.EncodeToString(sum[:]), verifier: v, trusted: trusted}, nil
}

func hashFunc(name string) (crypto.Hash, error) {
	switch name {
	case "", "sha256":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("hashAlgorithm %q: use sha256, sha384 or sha512", name)
}

// Trusted returns the key as sigstore trusted material, for bundles.
func (k *Key) Trusted() root.TrustedMaterial { return k.trusted }
