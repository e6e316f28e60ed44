// Package verifytest gives tests an in-memory OCI registry (go-containerregistry's,
// served over httptest on loopback), images in it, and legacy cosign
// signatures made the way `cosign sign --key` makes them. Unit tests use it;
// e2e tests sign with the real cosign tool instead.
package verifytest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Registry starts an in-memory registry and returns its host:port.
func Registry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(nullLogger())))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// PushImage pushes a random image to ref and returns its digest.
func PushImage(t testing.TB, ref string) v1.Hash {
	t.Helper()
	d, err := PushRandom(ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// PushRandom pushes a random image to ref and returns its digest.
func PushRandom(ref string) (v1.Hash, error) {
	img, err := random.Image(64, 1)
	if err != nil {
		return v1.Hash{}, err
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(r, img); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

// Key is a signing key pair.
type Key struct {
	Signer    signature.SignerVerifier
	PublicPEM string
}

// NewKey makes an ECDSA P-256 key pair, the kind cosign generate-key-pair makes.
func NewKey(t testing.TB) *Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// GenerateKey makes an ECDSA P-256 key pair.
func GenerateKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	s, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{Signer: s, PublicPEM: string(pub)}, nil
}

// Payload is the simple-signing payload cosign signs for digest in repo.
func Payload(repo string, digest v1.Hash) []byte {
	p := map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": repo},
			"image":    map[string]string{"docker-manifest-digest": digest.String()},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	}
	b, _ := json.Marshal(p)
	return b
}

// Sign attaches a signature of payload by key to digest in repo, stored the
// legacy cosign way (tag sha256-<hex>.sig), appending to existing ones.
func Sign(t testing.TB, repo string, digest v1.Hash, key *Key, payload []byte) {
	t.Helper()
	if err := SignLegacy(repo, digest, key, payload); err != nil {
		t.Fatal(err)
	}
}

// SignLegacy is Sign without a testing.TB.
func SignLegacy(repo string, digest v1.Hash, key *Key, payload []byte) error {
	sig, err := key.Signer.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return err
	}
	return Attach(repo, digest, payload, base64.StdEncoding.EncodeToString(sig))
}

// AttachRaw attaches a payload layer with the given signature annotation.
func AttachRaw(t testing.TB, repo string, digest v1.Hash, payload []byte, sigB64 string) {
	t.Helper()
	if err := Attach(repo, digest, payload, sigB64); err != nil {
		t.Fatal(err)
	}
}

// Attach is AttachRaw without a testing.TB.
func Attach(repo string, digest v1.Hash, payload []byte, sigB64 string) error {
	return AttachAnnotated(repo, digest, payload, map[string]string{"dev.cosignproject.cosign/signature": sigB64})
}

// AttachAnnotated attaches a payload layer with the given annotations to
// the legacy signature manifest of digest.
func AttachAnnotated(repo string, digest v1.Hash, payload []byte, annotations map[string]string) error {
	tag, err := name.NewTag(repo + ":" + digest.Algorithm + "-" + digest.Hex + ".sig")
	if err != nil {
		return err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	if existing, err := remote.Image(tag); err == nil {
		base = existing
	}
	layer := static.NewLayer(payload, "application/vnd.dev.cosign.simplesigning.v1+json")
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, Annotations: annotations})
	if err != nil {
		return err
	}
	return remote.Write(tag, img)
}

// PushIndex pushes an image index with one random image per platform
// ("linux/amd64", "unknown/unknown", ...) to ref, and returns the index
// digest and the digest of each platform image.
func PushIndex(t testing.TB, ref string, platforms ...string) (v1.Hash, map[string]v1.Hash) {
	t.Helper()
	d, children, err := PushRandomIndex(ref, platforms...)
	if err != nil {
		t.Fatal(err)
	}
	return d, children
}

// PushRandomIndex is PushIndex without a testing.TB.
func PushRandomIndex(ref string, platforms ...string) (v1.Hash, map[string]v1.Hash, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	children := map[string]v1.Hash{}
	for _, p := range platforms {
		img, err := random.Image(64, 1)
		if err != nil {
			return v1.Hash{}, nil, err
		}
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return v1.Hash{}, nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
		if children[p], err = img.Digest(); err != nil {
			return v1.Hash{}, nil, err
		}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		return v1.Hash{}, nil, err
	}
	d, err := idx.Digest()
	return d, children, err
}
