package verify

import "strings"

// Result is what gatehouse established about one image. It is JSON-tagged
// because it is also the per-image part of the audit record and, later, of
// the policy input.
type Result struct {
	// Image is the reference as written in the object.
	Image string `json:"image"`
	// Repository is the canonical repository name policies match on,
	// e.g. docker.io/library/nginx.
	Repository string `json:"repository,omitempty"`
	// Tag is the tag written in the reference, if any.
	Tag string `json:"tag,omitempty"`
	// Digest is the manifest digest the reference resolved to, computed from
	// the bytes received, or the digest written in the reference.
	Digest string `json:"digest,omitempty"`
	// Pinned is true when the reference already named the digest.
	Pinned bool `json:"pinned"`
	// SignaturesFound counts signatures attached to the digest, verified or not.
	SignaturesFound int `json:"signaturesFound"`
	// Signatures lists the signatures that verified, one per authority.
	Signatures []Signature `json:"signatures"`
	// Error is set when the image could not be resolved or its signatures
	// not fetched; Signatures is then empty.
	Error *Error `json:"error,omitempty"`
	// Cached is true when the result came from the verification cache.
	Cached bool `json:"cached"`
	// Index is true when the digest names an image index (multi-platform).
	Index bool `json:"index,omitempty"`
	// Platforms holds the runnable platform images of an index, when the
	// request asked for them.
	Platforms []PlatformResult `json:"platforms,omitempty"`
}

// Signature is one verified signature.
type Signature struct {
	// Authority is the ID of the authority whose key verified it.
	Authority string `json:"authority"`
	// Type is the signature scheme, e.g. "cosign-key".
	Type string `json:"type"`
	// KeyID identifies the key: sha256 of its PKIX encoding.
	KeyID string `json:"keyID"`
}

// SignedBy reports whether an authority's signature verified.
func (r *Result) SignedBy(authorityID string) bool {
	for _, s := range r.Signatures {
		if s.Authority == authorityID {
			return true
		}
	}
	return false
}

// PinnedReference returns the reference to run: the image as written with
// the verified digest appended (repo:tag@sha256:...), or as written when it
// already names a digest.
func (r *Result) PinnedReference() string {
	if r.Pinned || r.Digest == "" {
		return r.Image
	}
	return strings.TrimSpace(r.Image) + "@" + r.Digest
}
