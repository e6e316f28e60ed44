package sigstorebundle

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/registry"
)

// Media types of the cosign v3 bundle format.
const (
	BundleMediaType   = "application/vnd.dev.sigstore.bundle.v0.3+json"
	bundleLayerPrefix = "application/vnd.dev.sigstore.bundle"
	emptyConfigType   = "application/vnd.oci.empty.v1+json"
)

// MaxBundles caps how many bundles of one digest are fetched and checked.
const MaxBundles = 16

// Source is what Fetch needs from a registry.
type Source interface {
	Referrers(ctx context.Context, digest v1.Hash) ([]v1.Descriptor, error)
	Manifest(ctx context.Context, identifier string) (*registry.Manifest, error)
	Blob(ctx context.Context, desc v1.Descriptor) ([]byte, error)
}

// PredicateTypeAnnotation is the referrer annotation in which cosign v3
// names a bundle's predicate type. It only saves fetches: what counts is
// the predicate type inside the verified statement.
const PredicateTypeAnnotation = "dev.sigstore.bundle.predicateType"

// Fetch returns the bundles attached to digest. An image with none has an
// empty result and no error. With predicateTypes, referrers annotated with
// another predicate type are not fetched (a wrong annotation can only hide
// a bundle, never make one count). More than MaxBundles is refused.
func Fetch(ctx context.Context, src Source, digest v1.Hash, predicateTypes ...string) ([][]byte, error) {
	return fetch(ctx, src, digest, predicateTypes, MaxBundles, true)
}

// MaxAttestationBundles caps how many attestation bundles FetchAttestations
// reads for one digest.
const MaxAttestationBundles = 16

// FetchAttestations is Fetch for attestations, which pile up as images are
// rescanned: past MaxAttestationBundles of the wanted types, the rest are
// ignored rather than refused (a requirement they would have met then
// fails, never the reverse).
func FetchAttestations(ctx context.Context, src Source, digest v1.Hash, predicateTypes ...string) ([][]byte, error) {
	return fetch(ctx, src, digest, predicateTypes, MaxAttestationBundles, false)
}

func fetch(ctx context.Context, src Source, digest v1.Hash, predicateTypes []string, limit int, refuseMore bool) ([][]byte, error) {
	refs, err := src.Referrers(ctx, digest)
	if err != nil {
		return nil, err
	}
	// Signature bundles are small; attestation bundles carry their
	// predicate (an SBOM) and share the attestation budget.
	budget := int64(MaxSignatureBundleBytes)
	if !refuseMore {
		budget = registry.BlobLimit(ctx, MaxSignatureBundleBytes)
	}
	var out [][]byte
	var total int64
	for _, d := range refs {
		if !maybeBundle(d) || !wanted(d, predicateTypes) {
			continue
		}
		if len(out) == limit && !refuseMore {
			break
		}
		if len(out) == limit {
			return nil, &registry.Error{Kind: registry.Invalid, Err: fmt.Errorf("%s has more than %d sigstore bundles", digest, limit)}
		}
		b, err := fetchOne(ctx, src, d, digest)
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		if total += int64(len(b)); total > budget {
			if refuseMore {
				return nil, &registry.Error{Kind: registry.Invalid, Err: fmt.Errorf("the sigstore bundles of %s hold more than %d bytes", digest, budget)}
			}
			break // older attestations past the budget are ignored
		}
		out = append(out, b)
	}
	return out, nil
}

// MaxSignatureBundleBytes caps the bytes of the signature bundles of one
// digest (a few kilobytes each in practice).
const MaxSignatureBundleBytes = 8 << 20

// maybeBundle filters referrers by the artifactType the registry reports,
// which may be the manifest's own or its config media type.
func maybeBundle(d v1.Descriptor) bool {
	switch d.ArtifactType {
	case BundleMediaType, emptyConfigType, "":
		return true
	}
	return false
}

func wanted(d v1.Descriptor, predicateTypes []string) bool {
	t, ok := d.Annotations[PredicateTypeAnnotation]
	return !ok || len(predicateTypes) == 0 || slices.Contains(predicateTypes, t)
}

// manifest is the part of a referrer manifest Fetch relies on.
type manifest struct {
	Layers  []v1.Descriptor `json:"layers"`
	Subject *v1.Descriptor  `json:"subject"`
}

// fetchOne returns the bundle a referrer holds, or nil when it holds none.
func fetchOne(ctx context.Context, src Source, d v1.Descriptor, subject v1.Hash) ([]byte, error) {
	m, err := src.Manifest(ctx, d.Digest.String())
	if err != nil {
		return nil, err
	}
	var man manifest
	if err := json.Unmarshal(m.Raw, &man); err != nil {
		return nil, nil // not a manifest we understand: not a bundle
	}
	if len(man.Layers) != 1 || !strings.HasPrefix(string(man.Layers[0].MediaType), bundleLayerPrefix) ||
		man.Subject == nil || man.Subject.Digest != subject {
		return nil, nil
	}
	return src.Blob(ctx, man.Layers[0])
}
