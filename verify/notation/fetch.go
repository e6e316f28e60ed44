package notation

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/registry"
)

// Media types of Notary Project signatures.
const (
	// ArtifactType is the artifact type of a signature manifest (and its
	// config media type, for registries without artifactType).
	ArtifactType = "application/vnd.cncf.notary.signature"
	// MediaTypeJWS is a JWS envelope layer.
	MediaTypeJWS = "application/jose+json"
	// MediaTypeCOSE is a COSE envelope layer.
	MediaTypeCOSE = "application/cose"

	emptyConfigType = "application/vnd.oci.empty.v1+json"
)

// MaxSignatures caps how many notation signatures of one digest are fetched
// and checked.
const MaxSignatures = 16

// Source is what Fetch needs from a registry.
type Source interface {
	Referrers(ctx context.Context, digest v1.Hash) ([]v1.Descriptor, error)
	Manifest(ctx context.Context, identifier string) (*registry.Manifest, error)
	Blob(ctx context.Context, desc v1.Descriptor) ([]byte, error)
}

// Signature is one signature envelope attached to an image.
type Signature struct {
	// MediaType is the envelope format: MediaTypeJWS or MediaTypeCOSE.
	MediaType string
	// Envelope is the envelope as stored.
	Envelope []byte
}

// Fetch returns the notation signatures attached to digest. An image with
// none has an empty result and no error.
func Fetch(ctx context.Context, src Source, digest v1.Hash) ([]Signature, error) {
	refs, err := src.Referrers(ctx, digest)
	if err != nil {
		return nil, err
	}
	var out []Signature
	total := 0
	for _, d := range refs {
		if !maybeSignature(d) {
			continue
		}
		if len(out) == MaxSignatures {
			return nil, &registry.Error{Kind: registry.Invalid, Err: fmt.Errorf("%s has more than %d notation signatures", digest, MaxSignatures)}
		}
		s, err := fetchOne(ctx, src, d, digest)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		if total += len(s.Envelope); total > MaxSignatureBytes {
			return nil, &registry.Error{Kind: registry.Invalid, Err: fmt.Errorf("the notation signatures of %s hold more than %d bytes", digest, MaxSignatureBytes)}
		}
		out = append(out, *s)
	}
	return out, nil
}

// MaxSignatureBytes caps the bytes of the notation signature envelopes of
// one digest (a few kilobytes each in practice).
const MaxSignatureBytes = 4 << 20

// maybeSignature filters referrers by the artifactType the registry
// reports, which may be the manifest's own, its config media type, or none.
func maybeSignature(d v1.Descriptor) bool {
	switch d.ArtifactType {
	case ArtifactType, emptyConfigType, "":
		return true
	}
	return false
}

// manifest is the part of a referrer manifest Fetch relies on.
type manifest struct {
	ArtifactType string `json:"artifactType"`
	Config       struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Layers  []v1.Descriptor `json:"layers"`
	Subject *v1.Descriptor  `json:"subject"`
}

// fetchOne returns the signature a referrer holds, or nil when it holds none.
func fetchOne(ctx context.Context, src Source, d v1.Descriptor, subject v1.Hash) (*Signature, error) {
	m, err := src.Manifest(ctx, d.Digest.String())
	if err != nil {
		return nil, err
	}
	var man manifest
	if err := json.Unmarshal(m.Raw, &man); err != nil {
		return nil, nil // not a manifest we understand: not a signature
	}
	if man.ArtifactType != ArtifactType && man.Config.MediaType != ArtifactType {
		return nil, nil
	}
	if len(man.Layers) != 1 || man.Subject == nil || man.Subject.Digest != subject {
		return nil, nil
	}
	layer := man.Layers[0]
	if layer.MediaType != MediaTypeJWS && layer.MediaType != MediaTypeCOSE {
		return nil, nil
	}
	b, err := src.Blob(ctx, layer)
	if err != nil {
		return nil, err
	}
	return &Signature{MediaType: string(layer.MediaType), Envelope: b}, nil
}
