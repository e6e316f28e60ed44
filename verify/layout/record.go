package layout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// MaxRecorded caps how many manifests one Record call writes.
const MaxRecorded = 4096

// Record writes each image of refs, and what gatehouse reads about it, into
// the OCI layout at dir (created if missing, appended to otherwise).
// options configure the registry access (transport, credentials).
func Record(ctx context.Context, dir string, refs []name.Reference, options ...remote.Option) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return err
		}
	}
	r := &recorder{p: p, opts: append([]remote.Option{remote.WithContext(ctx)}, options...)}
	for _, ref := range refs {
		if err := r.image(ref); err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
	}
	return nil
}

type recorder struct {
	p     layout.Path
	opts  []remote.Option
	count int
}

// image records ref, its platform manifests if it is an index, and the
// artifacts of each digest.
func (r *recorder) image(ref name.Reference) error {
	desc, err := r.manifest(ref, ref.String(), false)
	if err != nil {
		return err
	}
	digests := []v1.Hash{desc.Digest}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		for _, child := range m.Manifests {
			d := ref.Context().Digest(child.Digest.String())
			if _, err := r.manifest(d, d.String(), false); err != nil {
				return err
			}
			digests = append(digests, child.Digest)
		}
	}
	for _, d := range digests {
		if err := r.artifacts(ref.Context(), d); err != nil {
			return err
		}
	}
	return nil
}

// artifacts records cosign's .sig and .att manifests of d, its referrers,
// and their referrers in turn (the Notation signatures of a document
// attached as a referrer).
func (r *recorder) artifacts(repo name.Repository, d v1.Hash) error {
	for _, suffix := range []string{".sig", ".att"} {
		tag := repo.Tag(d.Algorithm + "-" + d.Hex + suffix)
		if _, err := r.manifest(tag, tag.String(), true); err != nil && !notFound(err) {
			return err
		}
	}
	refs, err := r.referrers(repo, d)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if _, err := r.referrers(repo, ref); err != nil {
			return err
		}
	}
	return nil
}

// referrers records the referrers of d and returns their digests.
func (r *recorder) referrers(repo name.Repository, d v1.Hash) ([]v1.Hash, error) {
	idx, err := remote.Referrers(repo.Digest(d.String()), r.opts...)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []v1.Hash
	for _, ref := range m.Manifests {
		rd := repo.Digest(ref.Digest.String())
		if _, err := r.manifest(rd, rd.String(), true); err != nil {
			return nil, err
		}
		out = append(out, ref.Digest)
	}
	return out, nil
}

// manifest records the manifest at ref under the name refName, its
// configuration and, for an artifact (withBlobs), its layers.
func (r *recorder) manifest(ref name.Reference, refName string, withBlobs bool) (*remote.Descriptor, error) {
	if r.count == MaxRecorded {
		return nil, fmt.Errorf("more than %d manifests to record", MaxRecorded)
	}
	desc, err := remote.Get(ref, r.opts...)
	if err != nil {
		return nil, err
	}
	r.count++
	if err := r.p.WriteBlob(desc.Digest, nopCloser(desc.Manifest)); err != nil {
		return nil, err
	}
	if err := r.blobs(ref.Context(), desc, withBlobs); err != nil {
		return nil, err
	}
	d := desc.Descriptor
	d.Annotations = map[string]string{RefName: refName}
	return desc, r.p.AppendDescriptor(d)
}

// blobs records the configuration of an image manifest and, with layers
// (for an artifact: signatures, attestations), its layers.
func (r *recorder) blobs(repo name.Repository, desc *remote.Descriptor, layers bool) error {
	if desc.MediaType.IsIndex() {
		return nil
	}
	img, err := desc.Image()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	want := []v1.Descriptor{m.Config}
	if layers {
		want = append(want, m.Layers...)
	}
	for _, b := range want {
		l, err := remote.Layer(repo.Digest(b.Digest.String()), r.opts...)
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		if err := r.p.WriteBlob(b.Digest, rc); err != nil {
			return err
		}
	}
	return nil
}

func notFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

func nopCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
