package verify

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/cosign"
	"gatehouse.dev/gatehouse/verify/notation"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/sigstorebundle"
)

// Options configure a Verifier.
type Options struct {
	// Registry fetches manifests and signatures. Required.
	Registry *registry.Client
	// Cache keeps verified results by digest. Nil disables caching.
	Cache *Cache
	// StepTimeout bounds each registry step inside the caller's deadline
	// (0: only the caller's deadline applies).
	StepTimeout time.Duration
	// Observer, if set, is told how long each step of a verification took.
	Observer StepObserver
	// MaxAttestationBytes caps one attestation read (an envelope, a bundle,
	// an attached document) and the bytes read for one digest in each
	// format (0: attest.MaxBytes). Signatures keep the registry client's cap.
	MaxAttestationBytes int64
}

// StepObserver learns how long each step of a verification took.
type StepObserver interface {
	ObserveStep(step string, d time.Duration)
}

// Steps of a verification, as StepObserver names them.
const (
	StepResolve           = "resolve"            // tag or digest to manifest
	StepSignatureFetch    = "signature-fetch"    // download signatures from the registry
	StepSignatureVerify   = "signature-verify"   // check them against the authorities
	StepAttestationFetch  = "attestation-fetch"  // download attestations from the registry
	StepAttestationVerify = "attestation-verify" // check and parse them
	StepConfig            = "config"             // fetch the image configuration
)

// Steps lists every step, for metrics and documentation.
var Steps = []string{StepResolve, StepSignatureFetch, StepSignatureVerify, StepAttestationFetch, StepAttestationVerify, StepConfig}

// timed reports the time since start to the observer, if any.
func (v *Verifier) timed(step string, start time.Time) {
	if v.opts.Observer != nil {
		v.opts.Observer.ObserveStep(step, time.Since(start))
	}
}

// split times a step whose registry fetches interleave with checking: the
// fetches add up to one step, the rest of the time to the other.
type split struct {
	start time.Time
	fetch time.Duration
}

func newSplit() *split { return &split{start: time.Now()} }

// fetched adds the time since start to the fetch side.
func (s *split) fetched(start time.Time) { s.fetch += time.Since(start) }

// observe reports both sides to the observer, if any.
func (v *Verifier) observe(s *split, fetchStep, checkStep string) {
	if v.opts.Observer == nil {
		return
	}
	total := time.Since(s.start)
	v.opts.Observer.ObserveStep(fetchStep, s.fetch)
	v.opts.Observer.ObserveStep(checkStep, max(total-s.fetch, 0))
}

// Verifier verifies images. It is safe for concurrent use.
type Verifier struct {
	opts Options
}

// New returns a Verifier.
func New(o Options) (*Verifier, error) {
	if o.Registry == nil {
		return nil, errors.New("verify: Options.Registry is required")
	}
	return &Verifier{opts: o}, nil
}

// Request asks for one image to be verified.
type Request struct {
	// Image is the reference as written in the object.
	Image string
	// Keychain holds the pull credentials of the pod (nil: anonymous).
	Keychain authn.Keychain
	// Authorities are the signers to check for, from every matching policy.
	Authorities []Authority
	// Platforms, when set and the image is an index, also verifies every
	// platform image the pod can run (Result.Platforms).
	Platforms *Platforms
	// Attestations are the attestations to verify (Result.Attestations).
	Attestations []AttestationCheck
	// Config asks for the image configuration (Result.Config), for an
	// image manifest (not an index).
	Config bool
}

// Verify resolves req.Image to a digest and checks its signatures against
// every authority. Failures are reported in Result.Error, never panicked or
// returned separately, so every caller handles them the same way.
func (v *Verifier) Verify(ctx context.Context, req Request) Result {
	res := Result{Image: req.Image, Signatures: []Signature{}}
	ref, err := v.opts.Registry.Reference(req.Image)
	if err != nil {
		res.Error = failf(ReasonBadRequest, "image reference %q is not valid: %v", req.Image, err)
		return res
	}
	res.Repository = CanonicalRepository(ref.Context())
	if d, ok := ref.(name.Digest); ok {
		res.Digest, res.Pinned, res.Tag = d.DigestStr(), true, writtenTag(req.Image)
	} else {
		res.Tag = ref.Identifier()
	}
	if res.Pinned && req.Platforms == nil && v.fromCache(cacheKey(res.Digest, req.Authorities), &res) && v.extrasFromCache(res.Digest, req, &res) {
		return res // a digest names immutable content: no need to ask the registry
	}
	repo := v.opts.Registry.Repo(ref.Context(), req.Keychain)
	m, ferr := v.resolve(ctx, repo, ref.Identifier(), &res)
	if ferr != nil {
		res.Error = ferr
		return res
	}
	res.Index = m.IsIndex()
	target := v1.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))}
	sr, ferr := v.signaturesOf(ctx, repo, target, req.Authorities)
	if ferr != nil {
		res.Error = ferr
		return res
	}
	res.SignaturesFound, res.Signatures, res.Rejected, res.Cached = sr.found, sr.signatures, sr.rejected, sr.cached
	if req.Platforms != nil && res.Index {
		if ferr := v.verifyPlatforms(ctx, repo, m.Raw, *req.Platforms, req.Authorities, &res); ferr != nil {
			res.Error = ferr
			return res
		}
	}
	if len(req.Attestations) > 0 {
		if ferr := v.attestationsOf(ctx, repo, target, req.Attestations, &res); ferr != nil {
			res.Error = ferr
			return res
		}
	}
	if req.Config && !res.Index {
		res.Config, res.ConfigError = v.imageConfig(ctx, repo, m)
	}
	return res
}

// extrasFromCache fills res with the cached attestations and configuration
// req asks for, all or nothing.
func (v *Verifier) extrasFromCache(digest string, req Request, res *Result) bool {
	var att, cfg cached
	var ok bool
	if len(req.Attestations) > 0 {
		if att, ok = v.opts.Cache.Get(attestationKey(digest, req.Attestations)); !ok {
			return false
		}
	}
	if req.Config {
		if cfg, ok = v.opts.Cache.Get(configKey(digest)); !ok {
			return false
		}
	}
	res.Attestations, res.AttestationsFound, res.Config = att.attestations, att.attestationsFound, cfg.config
	res.Rejected = append(res.Rejected, att.rejected...)
	return true
}

func (v *Verifier) fromCache(key string, res *Result) bool {
	if v.opts.Cache == nil {
		return false
	}
	c, ok := v.opts.Cache.Get(key)
	if ok {
		res.SignaturesFound, res.Signatures, res.Rejected, res.Cached = c.found, c.signatures, c.rejected, true
	}
	return ok
}

func (v *Verifier) resolve(ctx context.Context, repo *registry.Repo, identifier string, res *Result) (*registry.Manifest, *Error) {
	defer v.timed(StepResolve, time.Now())
	ctx, cancel := v.step(ctx)
	defer cancel()
	m, err := repo.Manifest(ctx, identifier)
	if err != nil {
		return nil, registryFailure("resolving "+res.Image, err)
	}
	res.Digest = m.Digest.String()
	return m, nil
}

// signed is what signaturesOf established about one digest.
type signed struct {
	found      int
	signatures []Signature
	rejected   []Rejection
	cached     bool
}

// signaturesOf returns how many signatures the manifest target carries and
// which authorities' verified, from the cache or the registry. Each format
// is fetched only when the formats before it left authorities unsatisfied.
func (v *Verifier) signaturesOf(ctx context.Context, repo *registry.Repo, target v1.Descriptor, authorities []Authority) (signed, *Error) {
	digest := target.Digest
	key := cacheKey(digest.String(), authorities)
	var hit Result
	if v.fromCache(key, &hit) { // not timed: the cache metrics count hits
		return signed{found: hit.SignaturesFound, signatures: hit.Signatures, rejected: hit.Rejected, cached: true}, nil
	}
	sw := newSplit()
	defer v.observe(sw, StepSignatureFetch, StepSignatureVerify)
	what := "fetching signatures of " + repo.Name().String() + "@" + digest.String()
	ctx, cancel := v.step(ctx)
	defer cancel()
	t := time.Now()
	legacy, err := cosign.Fetch(ctx, repo, digest)
	sw.fetched(t)
	if err != nil {
		return signed{}, registryFailure(what, err)
	}
	res := signed{found: len(legacy), signatures: []Signature{}}
	var missing []Authority
	for _, a := range authorities {
		if s, ok := checkLegacy(a, legacy, digest); ok {
			res.signatures = append(res.signatures, s)
		} else {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 { // cosign v3 writes bundles: look there only when needed
		t := time.Now()
		bundles, err := sigstorebundle.Fetch(ctx, repo, digest, sigstorebundle.SignPredicateType)
		sw.fetched(t)
		if err != nil {
			return signed{}, registryFailure(what, err)
		}
		res.found += len(bundles)
		missing = slices.DeleteFunc(missing, func(a Authority) bool {
			s, ok := checkBundles(a, bundles, digest)
			if ok {
				res.signatures = append(res.signatures, s)
			}
			return ok
		})
	}
	if slices.ContainsFunc(missing, func(a Authority) bool { return a.Notation != nil }) {
		if err := checkNotation(ctx, repo, target, missing, &res, sw); err != nil {
			return signed{}, registryFailure(what, err)
		}
	}
	if v.opts.Cache != nil {
		v.opts.Cache.Put(key, cached{found: res.found, signatures: res.signatures, rejected: res.rejected}, len(res.signatures) == len(authorities))
	}
	return res, nil
}

// Signature types.
const (
	TypeCosignLegacy = "cosign-key"        // sha256-<hex>.sig tag, simple signing payload
	TypeCosignBundle = "cosign-key-bundle" // sigstore bundle referrer (cosign v3)
	// TypeCosignKeylessBundle: sigstore bundle referrer signed with a
	// Fulcio certificate (cosign v3 keyless).
	TypeCosignKeylessBundle = "cosign-keyless-bundle"
	// TypeCosignKeyless: sha256-<hex>.sig tag signed with a Fulcio
	// certificate, its log entry and timestamp in annotations (cosign v2
	// keyless).
	TypeCosignKeyless = "cosign-keyless"
)

func checkLegacy(a Authority, sigs []cosign.Signed, digest v1.Hash) (Signature, bool) {
	if a.Keyless != nil {
		s, ok := a.Keyless.checkLegacy(sigs, digest)
		s.Authority = a.ID
		return s, ok
	}
	if a.Key == nil {
		return Signature{}, false
	}
	for _, s := range sigs {
		if cosign.Check(s, a.Key.verifier, digest) == nil {
			return Signature{Authority: a.ID, Type: TypeCosignLegacy, KeyID: a.Key.ID}, true
		}
	}
	return Signature{}, false
}

func checkBundles(a Authority, bundles [][]byte, digest v1.Hash) (Signature, bool) {
	if a.Keyless != nil {
		s, ok := a.Keyless.check(bundles, digest)
		s.Authority = a.ID
		return s, ok
	}
	if a.Key == nil {
		return Signature{}, false
	}
	for _, b := range bundles {
		if sigstorebundle.Check(b, a.Key.Trusted(), digest) == nil {
			return Signature{Authority: a.ID, Type: TypeCosignBundle, KeyID: a.Key.ID}, true
		}
	}
	return Signature{}, false
}

// checkNotation fetches the notation signatures of target and adds to res
// those of the notation authorities among missing.
func checkNotation(ctx context.Context, repo *registry.Repo, target v1.Descriptor, missing []Authority, res *signed, sw *split) error {
	t := time.Now()
	sigs, err := notation.Fetch(ctx, repo, target.Digest)
	sw.fetched(t)
	if err != nil {
		return err
	}
	res.found += len(sigs)
	ref := repo.Name().String() + "@" + target.Digest.String()
	for _, a := range missing {
		if a.Notation == nil {
			continue
		}
		s, revoked, ok := a.Notation.check(ctx, sigs, target, ref)
		if ok {
			s.Authority = a.ID
			res.signatures = append(res.signatures, s)
		}
		for _, msg := range revoked {
			res.rejected = append(res.rejected, Rejection{Authority: a.ID, Message: msg})
		}
	}
	return nil
}

func (v *Verifier) step(ctx context.Context) (context.Context, context.CancelFunc) {
	if v.opts.StepTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, v.opts.StepTimeout)
}

func registryFailure(what string, err error) *Error {
	switch registry.KindOf(err) {
	case registry.NotFound:
		return failf(ReasonImageNotFound, "%s: the registry has no such manifest: %v", what, err)
	case registry.RateLimited:
		return failf(ReasonRegistryRateLimit, "%s: the registry is rate-limiting us: %v", what, err)
	case registry.Timeout:
		return failf(ReasonTimeout, "%s: no answer from the registry in time: %v", what, err)
	case registry.Invalid:
		return failf(ReasonInvalidArtifact, "%s: refused the registry's answer: %v", what, err)
	}
	return failf(ReasonRegistryError, "%s: %v", what, err)
}

// CanonicalRepository is the one form policies match on: the registry host
// always present, Docker Hub as docker.io, library/ for official images.
func CanonicalRepository(repo name.Repository) string {
	n := repo.Name()
	if rest, ok := strings.CutPrefix(n, name.DefaultRegistry+"/"); ok {
		return "docker.io/" + rest
	}
	return n
}

// Canonical returns the canonical repository name of an image reference, the
// name policies match on.
func (v *Verifier) Canonical(image string) (string, error) {
	ref, err := v.opts.Registry.Reference(image)
	if err != nil {
		return "", err
	}
	return CanonicalRepository(ref.Context()), nil
}

// writtenTag is the tag a pinned reference (repo:tag@sha256:...) still
// names, "" when it names none: the digest decides what runs, but policies
// about tags (no latest) must still see it.
func writtenTag(image string) string {
	before, _, ok := strings.Cut(image, "@")
	if !ok {
		return ""
	}
	slash := strings.LastIndex(before, "/")
	if i := strings.LastIndex(before, ":"); i > slash {
		return before[i+1:]
	}
	return ""
}
