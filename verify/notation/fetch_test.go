package notation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"gatehouse.dev/gatehouse/verify/notation"
	"gatehouse.dev/gatehouse/verify/registry"
)

// source is an in-memory notation.Source: referrers of one subject, their
// manifests and blobs by digest.
type source struct {
	referrers []v1.Descriptor
	manifests map[v1.Hash][]byte
	blobs     map[v1.Hash][]byte
}

func (s *source) Referrers(context.Context, v1.Hash) ([]v1.Descriptor, error) {
	return s.referrers, nil
}

func (s *source) Manifest(_ context.Context, id string) (*registry.Manifest, error) {
	h, _ := v1.NewHash(id)
	raw, ok := s.manifests[h]
	if !ok {
		return nil, errors.New("no manifest " + id)
	}
	return &registry.Manifest{Digest: h, Raw: raw}, nil
}

func (s *source) Blob(_ context.Context, d v1.Descriptor) ([]byte, error) {
	return s.blobs[d.Digest], nil
}

var emptyDigest, _, _ = v1.SHA256(strings.NewReader("{}"))

type referrerSpec struct {
	reportedType, artifactType, configType string
	layers                                 []string
	subject                                v1.Hash
}

// add stores a referrer manifest as spec describes it and lists it.
func (s *source) add(t *testing.T, spec referrerSpec) {
	t.Helper()
	var layers []v1.Descriptor
	for i, mt := range spec.layers {
		body := []byte(fmt.Sprintf("envelope %d of %d", i, len(s.referrers)))
		h, _, _ := v1.SHA256(strings.NewReader(string(body)))
		s.blobs[h] = body
		layers = append(layers, v1.Descriptor{MediaType: types.MediaType(mt), Digest: h, Size: int64(len(body))})
	}
	raw, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": types.OCIManifestSchema1, "artifactType": spec.artifactType,
		"config": v1.Descriptor{MediaType: types.MediaType(spec.configType), Digest: emptyDigest, Size: 2}, "layers": layers,
		"subject": v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: spec.subject, Size: 528},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := v1.SHA256(strings.NewReader(string(raw)))
	s.manifests[h] = raw
	s.referrers = append(s.referrers, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: int64(len(raw)), ArtifactType: spec.reportedType})
}

func TestFetch(t *testing.T) {
	subject := image.Digest
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
	sig := notation.ArtifactType
	empty := "application/vnd.oci.empty.v1+json"
	tests := []struct {
		name      string
		referrers []referrerSpec
		want      int
		wantErr   string
	}{
		{name: "jws by artifactType", referrers: []referrerSpec{{sig, sig, empty, []string{notation.MediaTypeJWS}, subject}}, want: 1},
		{name: "cose by config type, registry reports no artifactType", referrers: []referrerSpec{{"", "", sig, []string{notation.MediaTypeCOSE}, subject}}, want: 1},
		{name: "registry reports the empty config type", referrers: []referrerSpec{{empty, sig, empty, []string{notation.MediaTypeJWS}, subject}}, want: 1},
		{name: "registry says signature, manifest says otherwise", referrers: []referrerSpec{{sig, "application/example", empty, []string{notation.MediaTypeJWS}, subject}}},
		{name: "other artifact type skipped unread", referrers: []referrerSpec{{"application/vnd.dev.sigstore.bundle.v0.3+json", sig, empty, []string{notation.MediaTypeJWS}, subject}}},
		{name: "two layers", referrers: []referrerSpec{{sig, sig, empty, []string{notation.MediaTypeJWS, notation.MediaTypeJWS}, subject}}},
		{name: "layer not an envelope", referrers: []referrerSpec{{sig, sig, empty, []string{"application/octet-stream"}, subject}}},
		{name: "subject is another image", referrers: []referrerSpec{{sig, sig, empty, []string{notation.MediaTypeJWS}, other}}},
		{name: "more than MaxSignatures", referrers: repeat(referrerSpec{sig, sig, empty, []string{notation.MediaTypeJWS}, subject}, notation.MaxSignatures+1), wantErr: "more than 16"},
		{name: "exactly MaxSignatures", referrers: repeat(referrerSpec{sig, sig, empty, []string{notation.MediaTypeJWS}, subject}, notation.MaxSignatures), want: notation.MaxSignatures},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &source{manifests: map[v1.Hash][]byte{}, blobs: map[v1.Hash][]byte{}}
			for _, r := range tc.referrers {
				src.add(t, r)
			}
			sigs, err := notation.Fetch(context.Background(), src, subject)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || registry.KindOf(err) != registry.Invalid {
					t.Fatalf("error %v, want an Invalid one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(sigs) != tc.want {
				t.Fatalf("%d signatures, error %v; want %d", len(sigs), err, tc.want)
			}
		})
	}
}

func repeat(r referrerSpec, n int) []referrerSpec {
	out := make([]referrerSpec, n)
	for i := range out {
		out[i] = r
	}
	return out
}
