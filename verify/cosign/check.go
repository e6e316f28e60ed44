package cosign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature"
)

// SignatureType is the critical.type of a cosign simple-signing payload.
const SignatureType = "cosign container image signature"

// Errors of Check. Both mean the signature does not count for this key and
// digest.
var (
	// ErrSignature: the signature does not verify with the key.
	ErrSignature = errors.New("signature does not verify with the key")
	// ErrPayload: the signature verifies, but the signed payload is not a
	// cosign signature of the digest under verification (malformed, another
	// type, or another image: a replayed signature).
	ErrPayload = errors.New("signed payload is not a signature of this image")
)

// payload is the part of a simple-signing payload that Check relies on.
type payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// Check verifies that s is a signature, made with the key behind v, of the
// image whose manifest digest is digest.
func Check(s Signed, v signature.Verifier, digest v1.Hash) error {
	if err := v.VerifySignature(bytes.NewReader(s.Signature), bytes.NewReader(s.Payload)); err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return CheckPayload(s.Payload, digest)
}

// CheckPayload checks that a verified payload is a cosign signature of the
// image whose manifest digest is digest.
func CheckPayload(signedPayload []byte, digest v1.Hash) error {
	var p payload
	if err := json.Unmarshal(signedPayload, &p); err != nil {
		return fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if p.Critical.Type != SignatureType {
		return fmt.Errorf("%w: type %q", ErrPayload, p.Critical.Type)
	}
	signed, err := v1.NewHash(p.Critical.Image.DockerManifestDigest)
	if err != nil {
		return fmt.Errorf("%w: digest: %v", ErrPayload, err)
	}
	if signed != digest {
		return fmt.Errorf("%w: it signs %s", ErrPayload, signed)
	}
	return nil
}
