package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/registry"
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
	// Layer describes the document itself, the manifest's one layer.
	Layer v1.Descriptor
	// Content is the document once read (ReadDocument).
	Content []byte
}

// MaxDocuments caps the referrer manifests of the wanted artifact types
// read for one digest; the rest are ignored.
const MaxDocuments = 64

// FindDocuments returns the documents attached to digest as referrers of
// the given artifact types (manifests with one layer and the image as
// subject), without reading them: their signatures are checked first, and
// only signed ones are read (ReadDocument). A referrer that is gone or
// malformed is passed over, never a reason to fail.
func FindDocuments(ctx context.Context, src ReferrerSource, digest v1.Hash, artifactTypes []string) ([]Document, error) {
	refs, err := src.Referrers(ctx, digest)
	if err != nil {
		return nil, err
	}
	var out []Document
	for _, d := range refs {
		if len(out) == MaxDocuments {
			break
		}
		if d.ArtifactType != "" && d.ArtifactType != emptyConfigType && !slices.Contains(artifactTypes, d.ArtifactType) {
			continue // registries that drop artifactType report the config's media type, or nothing
		}
		doc, err := findDocument(ctx, src, d, digest, artifactTypes)
		if err != nil {
			return nil, err
		}
		if doc != nil {
			out = append(out, *doc)
		}
	}
	return out, nil
}

// findDocument returns the document a referrer describes, nil when it is
// not a document of subject of one of the artifact types, or is gone.
func findDocument(ctx context.Context, src ReferrerSource, d v1.Descriptor, subject v1.Hash, artifactTypes []string) (*Document, error) {
	m, err := src.Manifest(ctx, d.Digest.String())
	if k := registry.KindOf(err); k == registry.NotFound || k == registry.Invalid {
		return nil, nil // a stale or broken referrer: not a document
	}
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
	return &Document{Manifest: v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))}, ArtifactType: typ, Layer: man.Layers[0]}, nil
}

// ErrUnreadable: a document's content could not be read (gone, or larger
// than the registry client's blob cap).
var ErrUnreadable = errors.New("the document could not be read")

// ReadDocument reads doc's content. A document that is gone or too large
// gives ErrUnreadable (with the registry's reason), which concerns this
// document only; other errors are the registry's.
func ReadDocument(ctx context.Context, src ReferrerSource, doc *Document) error {
	b, err := src.Blob(ctx, doc.Layer)
	if k := registry.KindOf(err); k == registry.NotFound || k == registry.Invalid {
		return fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if err != nil {
		return err
	}
	doc.Content = b
	return nil
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
