package cosign

import (
	"context"
	"errors"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"gatehouse.dev/gatehouse/verify/registry"
)

// tagSource serves one .sig manifest whose layers declare the given sizes.
type tagSource struct {
	sizes []int64
	blobs int
}

func (s *tagSource) Manifest(context.Context, string) (*registry.Manifest, error) {
	layers := ""
	for i, n := range s.sizes {
		if i > 0 {
			layers += ","
		}
		layers += fmt.Sprintf(`{"mediaType":%q,"digest":"sha256:%064x","size":%d,"annotations":{%q:"c2ln"}}`, SimpleSigningMediaType, i+1, n, SignatureAnnotation)
	}
	raw := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` +
		fmt.Sprintf("%064x", 0) + `","size":2},"layers":[` + layers + `]}`
	return &registry.Manifest{MediaType: types.OCIManifestSchema1, Raw: []byte(raw)}, nil
}

func (s *tagSource) Blob(context.Context, v1.Descriptor) ([]byte, error) {
	s.blobs++
	return []byte("{}"), nil
}

// Signatures whose layers declare more than MaxSignatureBytes in all are
// refused before any is downloaded: 64 layers of 4 MiB would otherwise be
// a quarter of a gigabyte per image.
func TestFetchCapsSignatureBytes(t *testing.T) {
	src := &tagSource{sizes: []int64{MaxSignatureBytes / 2, MaxSignatureBytes/2 + 1}}
	_, err := Fetch(context.Background(), src, v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", 9)})
	var rerr *registry.Error
	if !errors.As(err, &rerr) || rerr.Kind != registry.Invalid || src.blobs != 0 {
		t.Fatalf("error %v after %d blob reads, want an invalid-artifact refusal before any", err, src.blobs)
	}
	src = &tagSource{sizes: []int64{2, 2}}
	if _, err := Fetch(context.Background(), src, v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", 9)}); err != nil || src.blobs != 2 {
		t.Fatalf("small signatures: error %v, %d blob reads", err, src.blobs)
	}
}
