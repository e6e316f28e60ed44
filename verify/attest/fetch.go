package attest

import (
	"context"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/cosign"
	"gatehouse.dev/gatehouse/verify/registry"
)

// DSSEMediaType is the layer media type of a cosign attestation.
const DSSEMediaType = "application/vnd.dsse.envelope.v1+json"

// Limits on the attestations read for one digest. cosign appends a layer
// to the .att manifest at each attest, so an image rescanned daily piles
// them up: the newest MaxAttestations of the wanted predicate types are
// read, within MaxBytes, and older ones ignored (never a reason to deny).
const (
	MaxLayers       = 1024     // layers in the .att manifest; more is refused
	MaxAttestations = 16       // newest envelopes of the wanted types read
	MaxBytes        = 16 << 20 // total bytes of the envelopes read
)

// budget is the bytes of attestations read for one digest and format: the
// blob limit the caller set (registry.WithBlobLimit), at least MaxBytes.
func budget(ctx context.Context) int {
	return int(max(registry.BlobLimit(ctx, MaxBytes), MaxBytes))
}

// AttestationTag is the tag under which cosign v2 stores the attestations
// of digest.
func AttestationTag(digest v1.Hash) string {
	return fmt.Sprintf("%s-%s.att", digest.Algorithm, digest.Hex)
}

// PredicateTypeAnnotation is the layer annotation in which cosign names an
// attestation's predicate type. It only saves fetches: what counts is the
// predicate type inside the verified statement.
const PredicateTypeAnnotation = "predicateType"

// Fetch returns the attestations attached to digest under its .att tag:
// each DSSE envelope as Payload, with the keyless material cosign
// annotates its layer with (certificate, log entry, timestamp), if any.
// An image with none has an empty result and no error. With
// predicateTypes, layers annotated with another predicate type are not
// fetched (a wrong annotation can only hide an attestation, never make one
// count).
func Fetch(ctx context.Context, src cosign.Source, digest v1.Hash, predicateTypes ...string) ([]cosign.Signed, error) {
	layers, err := cosign.TagLayers(ctx, src, AttestationTag(digest), DSSEMediaType, MaxLayers)
	if err != nil {
		return nil, err
	}
	var out []cosign.Signed
	total := 0
	for i := len(layers) - 1; i >= 0 && len(out) < MaxAttestations; i-- { // newest first
		l := layers[i]
		if t, ok := l.Annotations[PredicateTypeAnnotation]; ok && len(predicateTypes) > 0 && !slices.Contains(predicateTypes, t) {
			continue
		}
		env, err := src.Blob(ctx, l) // capped by the registry client, whatever the descriptor says
		if err != nil {
			return nil, err
		}
		if total += len(env); total > budget(ctx) {
			break
		}
		out = append(out, cosign.Signed{
			Payload:     env,
			Certificate: []byte(l.Annotations[cosign.CertificateAnnotation]),
			Chain:       []byte(l.Annotations[cosign.ChainAnnotation]),
			Bundle:      []byte(l.Annotations[cosign.BundleAnnotation]),
			Timestamp:   []byte(l.Annotations[cosign.TimestampAnnotation]),
		})
	}
	return out, nil
}
