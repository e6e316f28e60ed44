package attest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Artifact types of documents attached as plain OCI referrers and signed,
// as artifacts, with Notation (`oras attach --artifact-type ...` then
// `notation sign` of the attached artifact), the way Ratify reads them.
const (
	CycloneDXArtifactType = "application/vnd.cyclonedx+json"
	SPDXArtifactType      = "application/spdx+json"
	SARIFArtifactType     = "application/sarif+json"
	// InTotoArtifactType is an in-toto statement, unenveloped: the
	// signature over the artifact stands in for the DSSE envelope's.
	InTotoArtifactType = "application/vnd.in-toto+json"

	emptyConfigType = "application/vnd.oci.empty.v1+json"
)

// DocumentTypes returns the artifact types a document of predicateType
// can be attached as: an in-toto statement always; for SBOMs and SARIF
// reports, also the bare document.
func DocumentTypes(predicateType string) []string {
	switch {
	case predicateType == CycloneDX || strings.HasPrefix(predicateType, CycloneDX+"/"):
		return []string{CycloneDXArtifactType, InTotoArtifactType}
	case predicateType == SPDX || strings.HasPrefix(predicateType, "https://spdx.dev/Document/"):
		return []string{SPDXArtifactType, InTotoArtifactType}
	case strings.Contains(strings.ToLower(predicateType), "sarif"):
		return []string{SARIFArtifactType, InTotoArtifactType}
	}
	return []string{InTotoArtifactType}
}

// Document is a document attached to an image as an OCI referrer.
type Document struct {
	// Manifest describes the referrer manifest: what a signature of the
	// document signs (its subject and its one layer, by digest).
	Manifest v1.Descriptor
	// ArtifactType is the manifest's artifact type (or config media type).
	ArtifactType string
	// Content is the document, the manifest's one layer.
	Content []byte
}

// FetchDocuments returns the documents attached to digest as referrers of
// the given artifact types: manifests with one layer and the image as
// subject. At most MaxAttestations documents within MaxBytes are read; the
// rest are ignored.
func FetchDocuments(ctx context.Context, src ReferrerSource, digest v1.Hash, artifactTypes []string) ([]Document, error) {
	refs, err := src.Referrers(ctx, digest)
	if err != nil {
		return nil, err
	}
	var out []Document
	total := 0
	for _, d := range refs {
		if len(out) == MaxAttestations {
			break
		}
		if d.ArtifactType != "" && d.ArtifactType != emptyConfigType && !slices.Contains(artifactTypes, d.ArtifactType) {
			continue // registries that drop artifactType report the config's media type, or nothing
		}
		doc, err := fetchDocument(ctx, src, d, digest, artifactTypes)
		if err != nil {
			return nil, err
		}
		if doc == nil {
			continue
		}
		if total += len(doc.Content); total > MaxBytes {
			break
		}
		out = append(out, *doc)
	}
	return out, nil
}

// fetchDocument returns the document a referrer holds, nil when it is not
// a document of subject of one of the artifact types.
func fetchDocument(ctx context.Context, src ReferrerSource, d v1.Descriptor, subject v1.Hash, artifactTypes []string) (*Document, error) {
	m, err := src.Manifest(ctx, d.Digest.String())
	if err != nil {
		return nil, err
	}
	var man referrerManifest
	if json.Unmarshal(m.Raw, &man) != nil {
		return nil, nil // not a manifest we understand
	}
	typ := man.ArtifactType
	if typ == "" {
		typ = string(man.Config.MediaType)
	}
	if !slices.Contains(artifactTypes, typ) || len(man.Layers) != 1 || man.Subject == nil || man.Subject.Digest != subject {
		return nil, nil
	}
	content, err := src.Blob(ctx, man.Layers[0])
	if err != nil {
		return nil, err
	}
	return &Document{Manifest: v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))}, ArtifactType: typ, Content: content}, nil
}

// OpenDocument returns the statement doc makes about digest for
// predicateType, once doc's signature has verified: an in-toto statement
// is opened as an envelope's payload is (digest among its subjects, its own
// predicate type); a bare SBOM or SARIF document is the predicate itself,
// of the type its artifact type names, and is about the image its manifest
// names as subject.
func OpenDocument(doc Document, digest v1.Hash, predicateType string) (*Statement, error) {
	if doc.ArtifactType == InTotoArtifactType {
		return Open(InTotoPayloadType, doc.Content, digest)
	}
	if !slices.Contains(DocumentTypes(predicateType), doc.ArtifactType) {
		return nil, fmt.Errorf("%w: a %s document is not a %s predicate", ErrStatement, doc.ArtifactType, predicateType)
	}
	if !json.Valid(doc.Content) {
		return nil, fmt.Errorf("%w: the %s document is not JSON", ErrStatement, doc.ArtifactType)
	}
	return &Statement{PredicateType: predicateType, Predicate: doc.Content}, nil
}
