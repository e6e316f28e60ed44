package registry

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options configure a Client. Zero values take the defaults below.
type Options struct {
	// Transport is the shared base transport (connection pool, TLS roots).
	Transport http.RoundTripper
	// MaxManifestBytes caps one manifest or index (default 4 MiB).
	MaxManifestBytes int64
	// MaxBlobBytes caps one blob fetched for verification (default 4 MiB),
	// unless the context sets another limit (WithBlobLimit).
	MaxBlobBytes int64
	// Insecure lists registries (host[:port]) that may be reached over plain
	// HTTP. Loopback registries always may.
	Insecure []string
	// UserAgent is sent with every request.
	UserAgent string
	// Observer, if set, learns of every request and response body.
	Observer Observer
}

// Observer learns what gatehouse asks of registries: each request with
// the registry (host[:port]) it went to and its status class ("2xx",
// "3xx", "4xx", "429", "5xx", or "error" when no answer came), the bytes
// of response bodies read, and requests in flight.
type Observer interface {
	RegistryRequest(registry, code string)
	RegistryBytes(registry string, n int)
	RegistryInFlight(delta int)
}

// Defaults.
const (
	DefaultMaxManifestBytes = 4 << 20
	DefaultMaxBlobBytes     = 4 << 20
)

// Client fetches from OCI registries. It is safe for concurrent use.
type Client struct {
	opts Options
}

// New returns a Client.
func New(o Options) *Client {
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.MaxManifestBytes <= 0 {
		o.MaxManifestBytes = DefaultMaxManifestBytes
	}
	if o.MaxBlobBytes <= 0 {
		o.MaxBlobBytes = DefaultMaxBlobBytes
	}
	if o.UserAgent == "" {
		o.UserAgent = "gatehouse"
	}
	return &Client{opts: o}
}

// plainHTTPAllowed reports whether credentials may travel over plain HTTP to
// registry: only when it is configured insecure or listens on loopback.
// go-containerregistry falls back to HTTP for private (RFC 1918) addresses
// too; a pull secret must not follow it there.
func (c *Client) plainHTTPAllowed(registry string) bool {
	if slices.Contains(c.opts.Insecure, registry) {
		return true
	}
	host := hostOnly(registry)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Reference parses an image reference as the kubelet would (docker.io and
// :latest defaults), marking registries configured as insecure.
func (c *Client) Reference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, err
	}
	if slices.Contains(c.opts.Insecure, ref.Context().RegistryStr()) {
		return name.ParseReference(s, name.Insecure)
	}
	return ref, nil
}

// Repo binds a repository and the credentials to use for it.
func (c *Client) Repo(repo name.Repository, kc authn.Keychain) *Repo {
	if kc == nil {
		kc = authn.NewMultiKeychain() // anonymous, never gatehouse's own docker config
	}
	return &Repo{c: c, repo: repo, keychain: kc}
}

// Repo fetches from one repository with one set of credentials.
type Repo struct {
	c        *Client
	repo     name.Repository
	keychain authn.Keychain
}

// Name returns the repository.
func (r *Repo) Name() name.Repository { return r.repo }

// Manifest is a manifest or index as received, with the digest computed from
// its bytes.
type Manifest struct {
	Digest    v1.Hash
	MediaType types.MediaType
	Raw       []byte
}

// Manifest fetches the manifest that identifier (a tag or a digest) names.
// When identifier is a digest, the bytes received must hash to it.
func (r *Repo) Manifest(ctx context.Context, identifier string) (*Manifest, error) {
	ref, err := r.ref(identifier)
	if err != nil {
		return nil, invalid("reference %s:%s: %v", r.repo, identifier, err)
	}
	d, err := remote.Get(ref, r.options(ctx, r.c.opts.MaxManifestBytes)...)
	if err != nil {
		return nil, classify(err)
	}
	if d.MediaType == types.DockerManifestSchema1 || d.MediaType == types.DockerManifestSchema1Signed {
		// For these the digest would come from a response header, not from
		// the bytes: refuse rather than trust the registry's word.
		return nil, invalid("%s: Docker schema 1 manifests are not supported; push the image as OCI or Docker schema 2", ref)
	}
	return &Manifest{Digest: d.Digest, MediaType: d.MediaType, Raw: d.Manifest}, nil
}

func (r *Repo) ref(identifier string) (name.Reference, error) {
	if _, err := v1.NewHash(identifier); err == nil {
		return name.NewDigest(r.repo.Name()+"@"+identifier, name.StrictValidation)
	}
	return name.NewTag(r.repo.Name()+":"+identifier, name.StrictValidation)
}

// Blob fetches the blob desc names. The descriptor's size is checked against
// the cap before fetching, and the bytes received must match its digest and
// size.
func (r *Repo) Blob(ctx context.Context, desc v1.Descriptor) ([]byte, error) {
	max := BlobLimit(ctx, r.c.opts.MaxBlobBytes)
	if desc.Size < 0 || desc.Size > max {
		return nil, invalid("blob %s declares %d bytes, limit is %d", desc.Digest, desc.Size, max)
	}
	layer, err := remote.Layer(r.repo.Digest(desc.Digest.String()), r.options(ctx, max)...)
	if err != nil {
		return nil, classify(err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, classify(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc) // verifies the digest at EOF; capped by the guard
	if err != nil {
		return nil, classify(err)
	}
	if int64(len(b)) != desc.Size {
		return nil, invalid("blob %s: got %d bytes, descriptor says %d", desc.Digest, len(b), desc.Size)
	}
	return b, nil
}

type blobLimitKey struct{}

// WithBlobLimit returns a context under which Blob reads blobs of up to
// limit bytes, instead of the client's MaxBlobBytes: attestations (an SBOM
// in an envelope) are larger than signatures.
func WithBlobLimit(ctx context.Context, limit int64) context.Context {
	return context.WithValue(ctx, blobLimitKey{}, limit)
}

// BlobLimit returns the blob limit ctx sets, or def.
func BlobLimit(ctx context.Context, def int64) int64 {
	if l, ok := ctx.Value(blobLimitKey{}).(int64); ok && l > 0 {
		return l
	}
	return def
}

// ParseManifest decodes raw as an image manifest.
func ParseManifest(raw []byte) (*v1.Manifest, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, invalid("manifest: %v", err)
	}
	return m, nil
}

func (r *Repo) options(ctx context.Context, maxBody int64) []remote.Option {
	reg := r.repo.Registry
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(r.keychain),
		remote.WithUserAgent(r.c.opts.UserAgent),
		remote.WithRetryBackoff(remote.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 2}),
		remote.WithTransport(&guard{
			base:     r.c.opts.Transport,
			registry: reg.RegistryStr(),
			insecure: r.c.plainHTTPAllowed(reg.RegistryStr()),
			maxBody:  maxBody,
			obs:      r.c.opts.Observer,
		}),
	}
}

// IsIndex reports whether a manifest is an image index (multi-platform).
func (m *Manifest) IsIndex() bool {
	return m.MediaType == types.OCIImageIndex || m.MediaType == types.DockerManifestList
}

// ParseIndex decodes raw as an image index.
func ParseIndex(raw []byte) (*v1.IndexManifest, error) {
	m, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, invalid("index: %v", err)
	}
	return m, nil
}

// MaxReferrers caps how many referrers of one digest are considered, so a
// registry answering with thousands of them cannot make gatehouse fetch
// them all.
const MaxReferrers = 256

// Referrers returns the manifests that refer to digest (their subject),
// through the OCI 1.1 referrers API or, on registries without it, the
// sha256-<hex> referrers tag. Callers filter by what the manifests hold:
// registries report artifactType inconsistently (some give the config
// media type), so it is a hint, not a fact.
func (r *Repo) Referrers(ctx context.Context, digest v1.Hash) ([]v1.Descriptor, error) {
	opts := append(r.options(ctx, r.c.opts.MaxManifestBytes), remote.WithReferrersTagFallback(true))
	idx, err := remote.Referrers(r.repo.Digest(digest.String()), opts...)
	if err != nil {
		return nil, classify(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, classify(err)
	}
	if len(m.Manifests) > MaxReferrers {
		return nil, invalid("%s has %d referrers, limit is %d", digest, len(m.Manifests), MaxReferrers)
	}
	return m.Manifests, nil
}
