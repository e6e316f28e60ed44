package verify

import (
	"context"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/registry"
)

// MaxPlatforms caps how many manifests an image index may list.
const MaxPlatforms = 256

// Platforms selects the platform images of an index that a pod can run:
// those whose OS is in OS and whose architecture is in Arch. A nil list
// allows any value; an empty one (contradictory selectors) allows none.
type Platforms struct {
	OS   []string
	Arch []string
}

// Matches reports whether p is a platform the pod can run on.
func (s Platforms) Matches(p *v1.Platform) bool {
	if p == nil || p.OS == "unknown" || p.Architecture == "unknown" {
		return false // attestation manifests, not runnable
	}
	return (s.OS == nil || slices.Contains(s.OS, p.OS)) && (s.Arch == nil || slices.Contains(s.Arch, p.Architecture))
}

func (s Platforms) String() string {
	os, arch := strings.Join(s.OS, "|"), strings.Join(s.Arch, "|")
	if os == "" {
		os = "*"
	}
	if arch == "" {
		arch = "*"
	}
	return os + "/" + arch
}

// PlatformResult is what was established about one platform image of an
// index.
type PlatformResult struct {
	// Platform is os/arch[/variant].
	Platform        string      `json:"platform"`
	Digest          string      `json:"digest"`
	SignaturesFound int         `json:"signaturesFound"`
	Signatures      []Signature `json:"signatures"`
	Rejected        []Rejection `json:"rejected,omitempty"`
}

// SignedBy reports whether an authority's signature on this platform image
// verified.
func (p *PlatformResult) SignedBy(authorityID string) bool {
	return slices.ContainsFunc(p.Signatures, func(s Signature) bool { return s.Authority == authorityID })
}

// verifyPlatforms checks the signatures of every runnable platform image of
// the index raw.
func (v *Verifier) verifyPlatforms(ctx context.Context, repo *registry.Repo, raw []byte, sel Platforms, authorities []Authority, res *Result) *Error {
	index, err := registry.ParseIndex(raw)
	if err != nil {
		return registryFailure("reading the index of "+res.Image, err)
	}
	if len(index.Manifests) > MaxPlatforms {
		return failf(ReasonInvalidArtifact, "the index of %s lists %d manifests, limit is %d", res.Image, len(index.Manifests), MaxPlatforms)
	}
	res.Platforms = []PlatformResult{}
	for _, m := range index.Manifests {
		if !sel.Matches(m.Platform) {
			continue
		}
		pr := PlatformResult{Platform: m.Platform.String(), Digest: m.Digest.String()}
		sr, ferr := v.signaturesOf(ctx, repo, v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size}, authorities)
		if ferr != nil {
			return ferr
		}
		pr.SignaturesFound, pr.Signatures, pr.Rejected = sr.found, sr.signatures, sr.rejected
		res.Platforms = append(res.Platforms, pr)
	}
	if len(res.Platforms) == 0 {
		return failf(ReasonInvalidArtifact, "the index of %s has no platform image the pod can run (%s)", res.Image, sel)
	}
	return nil
}
