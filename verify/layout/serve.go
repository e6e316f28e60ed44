package layout

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RefName is the annotation naming a manifest's reference in index.json.
const RefName = "org.opencontainers.image.ref.name"

// Serve loads the layout at dir into an in-memory registry and returns a
// transport that answers every registry request from it, whatever the
// host: nothing leaves the process.
func Serve(dir string) (http.RoundTripper, error) {
	idx, err := readIndex(dir)
	if err != nil {
		return nil, err
	}
	h := registry.New(registry.WithReferrersSupport(true), registry.WithBlobHandler(blobs{dir}), registry.Logger(log.New(io.Discard, "", 0)))
	// An index is accepted only once its manifests are there: push them first.
	manifests := slices.Clone(idx.Manifests)
	slices.SortStableFunc(manifests, func(a, b v1.Descriptor) int {
		return cmp.Compare(boolInt(a.MediaType.IsIndex()), boolInt(b.MediaType.IsIndex()))
	})
	for _, d := range manifests {
		if err := put(h, dir, d); err != nil {
			return nil, err
		}
	}
	return handlerTransport{h}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type index struct {
	Manifests []v1.Descriptor `json:"manifests"`
}

func readIndex(dir string) (*index, error) {
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	var idx index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("OCI layout %s: index.json: %w", dir, err)
	}
	return &idx, nil
}

// put pushes the manifest d names under its reference.
func put(h http.Handler, dir string, d v1.Descriptor) error {
	ref, err := name.ParseReference(d.Annotations[RefName])
	if err != nil {
		return fmt.Errorf("OCI layout %s: manifest %s: %s %q: %w", dir, d.Digest, RefName, d.Annotations[RefName], err)
	}
	raw, err := os.ReadFile(blobPath(dir, d.Digest))
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	url := fmt.Sprintf("http://layout/v2/%s/%s/manifests/%s", hostSegment(ref.Context().RegistryStr()), ref.Context().RepositoryStr(), ref.Identifier())
	req := httptest.NewRequest(http.MethodPut, url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", string(d.MediaType))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		return fmt.Errorf("OCI layout %s: loading %s: %d %s", dir, ref, rec.Code, rec.Body)
	}
	return nil
}

func blobPath(dir string, h v1.Hash) string {
	return filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
}

// blobs serves the layout's blobs to every repository.
type blobs struct{ dir string }

var errNoBlob = errors.New("blob not in the layout (image layers are not recorded)")

func (b blobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(blobPath(b.dir, h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoBlob
	}
	return f, err
}

// handlerTransport answers requests with an in-process handler. It stores
// every registry's repositories under the registry's host, so that
// a.example/app and b.example/app stay apart.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if rest, ok := strings.CutPrefix(req.URL.Path, "/v2/"); ok && rest != "" {
		req = req.Clone(req.Context())
		req.URL.Path = "/v2/" + hostSegment(req.URL.Host) + "/" + rest
		req.URL.RawPath = ""
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// hostSegment is a registry host[:port] as one repository path segment.
func hostSegment(host string) string { return strings.ReplaceAll(host, ":", "-") }
