package attest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"gatehouse.dev/gatehouse/verify/registry"
)

// referrerFake answers the referrers of one image from fixed manifests.
type referrerFake struct {
	refs      []v1.Descriptor
	manifests map[string]string // digest -> raw manifest
	errs      map[string]error  // digest -> error
}

func (f referrerFake) Referrers(context.Context, v1.Hash) ([]v1.Descriptor, error) {
	return f.refs, nil
}

func (f referrerFake) Manifest(_ context.Context, id string) (*registry.Manifest, error) {
	if err := f.errs[id]; err != nil {
		return nil, err
	}
	h, _ := v1.NewHash(id)
	return &registry.Manifest{Digest: h, MediaType: types.OCIManifestSchema1, Raw: []byte(f.manifests[id])}, nil
}

func (f referrerFake) Blob(context.Context, v1.Descriptor) ([]byte, error) {
	return nil, errors.New("not read here")
}

func hash(c byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", c)}
}

// A referrer is a document of the image only when its manifest, as
// fetched, names the image as subject and has one layer of a wanted type;
// a referrer that is gone or broken is passed over, while a registry that
// fails is an error.
func TestFindDocuments(t *testing.T) {
	image, other := hash(1), hash(2)
	manifest := func(artifactType string, subject v1.Hash, layers int) string {
		ls := `{"mediaType":"application/vnd.cyclonedx+json","digest":"` + hash(9).String() + `","size":10}`
		if layers == 2 {
			ls += "," + ls
		}
		return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"` + artifactType +
			`","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + hash(8).String() + `","size":2},"layers":[` + ls +
			`],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + subject.String() + `","size":100}}`
	}
	good, replayed, twoLayers, spdx, gone, broken := hash(3), hash(4), hash(5), hash(6), hash(7), hash(10)
	src := referrerFake{
		refs: []v1.Descriptor{{Digest: good}, {Digest: replayed}, {Digest: twoLayers}, {Digest: spdx, ArtifactType: SPDXArtifactType}, {Digest: gone}, {Digest: broken}},
		manifests: map[string]string{
			good.String():      manifest(CycloneDXArtifactType, image, 1),
			replayed.String():  manifest(CycloneDXArtifactType, other, 1), // listed, but about another image
			twoLayers.String(): manifest(CycloneDXArtifactType, image, 2),
		},
		errs: map[string]error{
			gone.String():   &registry.Error{Kind: registry.NotFound, Err: errors.New("manifest unknown")},
			broken.String(): &registry.Error{Kind: registry.Invalid, Err: errors.New("digest mismatch")},
		},
	}
	docs, err := FindDocuments(context.Background(), src, image, []string{CycloneDXArtifactType})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].Manifest.Digest != good || docs[0].ArtifactType != CycloneDXArtifactType || docs[0].Layer.Digest != hash(9) {
		t.Fatalf("documents %+v, want only %s", docs, good)
	}
	src.errs[good.String()] = &registry.Error{Kind: registry.Unavailable, Err: errors.New("503")}
	if _, err := FindDocuments(context.Background(), src, image, []string{CycloneDXArtifactType}); err == nil {
		t.Fatal("a failing registry was passed over")
	}
}
