package registry

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// attach pushes n artifacts of artifactType whose subject is the image.
func attach(t *testing.T, host string, subject v1.Hash, artifactType string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		a := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		a = mutate.ConfigMediaType(a, types.MediaType(artifactType))
		a, err := mutate.Append(a, mutate.Addendum{Layer: static.NewLayer([]byte{byte(i)}, types.MediaType(artifactType))})
		if err != nil {
			t.Fatal(err)
		}
		a = mutate.Subject(a, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: subject, Size: 1}).(v1.Image)
		d, _ := a.Digest()
		ref, _ := name.ParseReference(host + "/app@" + d.String())
		if err := remote.Write(ref, a); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReferrers(t *testing.T) {
	for _, api := range []bool{true, false} {
		label := "referrers API"
		if !api {
			label = "tag fallback"
		}
		t.Run(label, func(t *testing.T) {
			srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(api), ggcrregistry.Logger(log.New(io.Discard, "", 0))))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			img, _ := random.Image(64, 1)
			img = mutate.MediaType(img, types.OCIManifestSchema1)
			ref, _ := name.ParseReference(host + "/app:v1")
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			r := repo(t, host, nil)
			if got, err := r.Referrers(context.Background(), d); err != nil || len(got) != 0 {
				t.Fatalf("before: %d referrers, %v", len(got), err)
			}
			attach(t, host, d, bundleType, 2)
			attach(t, host, d, "application/vnd.cncf.notary.signature", 1)
			got, err := r.Referrers(context.Background(), d)
			if err != nil || len(got) != 3 {
				t.Fatalf("%d referrers, %v; want 3", len(got), err)
			}
			attach(t, host, d, bundleType, MaxReferrers)
			if _, err := r.Referrers(context.Background(), d); KindOf(err) != Invalid {
				t.Fatalf("over the cap: %v", err)
			}
		})
	}
}
