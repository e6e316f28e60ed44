package attest

import (
	"context"
	"encoding/json"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/registry"
)

// ReferrerSource is what FetchReferrers needs from a registry.
type ReferrerSource interface {
	Referrers(ctx context.Context, digest v1.Hash) ([]v1.Descriptor, error)
	Manifest(ctx context.Context, identifier string) (*registry.Manifest, error)
	Blob(ctx context.Context, desc v1.Descriptor) ([]byte, error)
}

// FetchReferrers returns the DSSE envelopes attached to digest as plain
// OCI referrers, as `oras attach --artifact-type
// application/vnd.dsse.envelope.v1+json` attaches them: manifests with
// that artifact type (or config media type, for registries that drop
// artifactType), one DSSE layer, and the image as subject. Referrers
// annotated with another predicateType are not fetched. At most
// MaxAttestations envelopes within MaxBytes are read; the rest are ignored.
func FetchReferrers(ctx context.Context, src ReferrerSource, digest v1.Hash, predicateTypes ...string) ([][]byte, error) {
	refs, err := src.Referrers(ctx, digest)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	total := 0
	for _, d := range refs {
		if len(out) == MaxAttestations {
			break
		}
		if d.ArtifactType != DSSEMediaType && d.ArtifactType != "" {
			continue
		}
		if t, ok := d.Annotations[PredicateTypeAnnotation]; ok && len(predicateTypes) > 0 && !slices.Contains(predicateTypes, t) {
			continue
		}
		env, err := fetchReferrer(ctx, src, d, digest)
		if err != nil {
			return nil, err
		}
		if env == nil {
			continue
		}
		if total += len(env); total > budget(ctx) {
			break
		}
		out = append(out, env)
	}
	return out, nil
}

// referrerManifest is the part of a referrer manifest FetchReferrers reads.
type referrerManifest struct {
	ArtifactType string          `json:"artifactType"`
	Config       v1.Descriptor   `json:"config"`
	Layers       []v1.Descriptor `json:"layers"`
	Subject      *v1.Descriptor  `json:"subject"`
}

// fetchReferrer returns the envelope a referrer holds, nil when it is not
// a DSSE referrer of subject.
func fetchReferrer(ctx context.Context, src ReferrerSource, d v1.Descriptor, subject v1.Hash) ([]byte, error) {
	m, err := src.Manifest(ctx, d.Digest.String())
	if err != nil {
		return nil, err
	}
	var man referrerManifest
	if json.Unmarshal(m.Raw, &man) != nil {
		return nil, nil // not a manifest we understand
	}
	typed := man.ArtifactType == DSSEMediaType || (man.ArtifactType == "" && string(man.Config.MediaType) == DSSEMediaType)
	if !typed || len(man.Layers) != 1 || string(man.Layers[0].MediaType) != DSSEMediaType || man.Subject == nil || man.Subject.Digest != subject {
		return nil, nil
	}
	return src.Blob(ctx, man.Layers[0])
}
