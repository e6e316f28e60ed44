package cosign

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/registry"
)

// Media type and annotations of the legacy cosign signature format.
const (
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	SignatureAnnotation    = "dev.cosignproject.cosign/signature"
	CertificateAnnotation  = "dev.sigstore.cosign/certificate"
	ChainAnnotation        = "dev.sigstore.cosign/chain"
	BundleAnnotation       = "dev.sigstore.cosign/bundle"
	TimestampAnnotation    = "dev.sigstore.cosign/rfc3161timestamp"
)

// MaxSignatures caps how many signature layers one image may carry.
const MaxSignatures = 64

// Source is what Fetch needs from a registry.
type Source interface {
	Manifest(ctx context.Context, identifier string) (*registry.Manifest, error)
	Blob(ctx context.Context, desc v1.Descriptor) ([]byte, error)
}

// Signed is one signature as stored: the payload and what was attached to it.
type Signed struct {
	Payload     []byte
	Signature   []byte // raw signature bytes (decoded from base64)
	Certificate []byte // PEM, keyless signatures only
	Chain       []byte // PEM
	Bundle      []byte // Rekor bundle JSON, when uploaded to a log
	Timestamp   []byte // RFC 3161 timestamp JSON, when a TSA was used
}

// MaxSignatureBytes caps the bytes of all the signature payloads of one
// digest (each also within the registry client's blob cap): a few hundred
// bytes each in practice.
const MaxSignatureBytes = 8 << 20

// SignatureTag is the tag under which cosign stores the signatures of digest.
func SignatureTag(digest v1.Hash) string {
	return fmt.Sprintf("%s-%s.sig", digest.Algorithm, digest.Hex)
}

// Fetch returns the signatures attached to digest. An image with no signature
// manifest has none: the result is empty and the error nil.
func Fetch(ctx context.Context, src Source, digest v1.Hash) ([]Signed, error) {
	layers, err := TagLayers(ctx, src, SignatureTag(digest), SimpleSigningMediaType, MaxSignatures)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, l := range layers {
		if total += l.Size; l.Size < 0 || total > MaxSignatureBytes {
			return nil, &registry.Error{Kind: registry.Invalid, Err: fmt.Errorf("the signatures of %s declare more than %d bytes", digest, MaxSignatureBytes)}
		}
	}
	var out []Signed
	for _, l := range layers {
		s, err := fetchOne(ctx, src, l)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// TagLayers returns the layers of mediaType in the manifest cosign stores
// under tag (its .sig or .att tag); none when there is no such tag. A
// manifest with more than max layers is refused.
func TagLayers(ctx context.Context, src Source, tag, mediaType string, max int) ([]v1.Descriptor, error) {
	m, err := src.Manifest(ctx, tag)
	if registry.KindOf(err) == registry.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	man, err := registry.ParseManifest(m.Raw)
	if err != nil {
		return nil, err
	}
	if len(man.Layers) > max {
		return nil, &registry.Error{Kind: registry.Invalid, Err: fmt.Errorf("%s manifest has %d layers, limit is %d", tag, len(man.Layers), max)}
	}
	var out []v1.Descriptor
	for _, l := range man.Layers {
		if string(l.MediaType) == mediaType {
			out = append(out, l)
		}
	}
	return out, nil
}

func fetchOne(ctx context.Context, src Source, l v1.Descriptor) (Signed, error) {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(l.Annotations[SignatureAnnotation]))
	if err != nil {
		return Signed{}, &registry.Error{Kind: registry.Invalid, Err: fmt.Errorf("signature annotation of layer %s: %v", l.Digest, err)}
	}
	payload, err := src.Blob(ctx, l)
	if err != nil {
		return Signed{}, err
	}
	return Signed{
		Payload:     payload,
		Signature:   sig,
		Certificate: []byte(l.Annotations[CertificateAnnotation]),
		Chain:       []byte(l.Annotations[ChainAnnotation]),
		Bundle:      []byte(l.Annotations[BundleAnnotation]),
		Timestamp:   []byte(l.Annotations[TimestampAnnotation]),
	}, nil
}
