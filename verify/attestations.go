package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/cosign"
	"gatehouse.dev/gatehouse/verify/notation"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/sigstorebundle"
)

// AttestationCheck asks for attestations of one predicate type, signed by
// any of its authorities (which need not be the image's signers).
type AttestationCheck struct {
	// ID names the requirement: "<policy>/<name>".
	ID            string
	PredicateType string
	// Authorities are key, keyless or Notation authorities.
	Authorities []Authority
}

// Attestation is one verified attestation: an in-toto statement about the
// image digest, signed by an authority of a check, whose predicate parsed.
type Attestation struct {
	// Requirement is the ID of the check it satisfies.
	Requirement string `json:"requirement"`
	// Authority is the ID of the authority whose signature verified.
	Authority     string `json:"authority"`
	PredicateType string `json:"predicateType"`
	// Format is "cosign-att" (cosign v2's sha256-<hex>.att tag),
	// "dsse-referrer" (a DSSE envelope attached as a plain OCI referrer),
	// "bundle" (a sigstore bundle, cosign v3) or "notation-referrer" (a
	// document attached as a referrer, signed with Notation).
	Format string `json:"format"`
	// Certificate is the signer of a keyless attestation.
	Certificate *Certificate `json:"certificate,omitempty"`
	// Notation is the signature of a Notation-signed document.
	Notation *NotationSignature `json:"notation,omitempty"`
	// Kind, Provenance, SBOM and Vulnerabilities are the typed predicate.
	attest.Predicate
	// Raw is the predicate as signed, for kinds gatehouse does not type
	// ("other").
	Raw json.RawMessage `json:"predicate,omitempty"`
}

// Attestation formats.
const (
	FormatCosignAtt    = "cosign-att"
	FormatDSSEReferrer = "dsse-referrer"
	FormatBundle       = "bundle"
	// FormatNotationReferrer: a document (SBOM, SARIF report or in-toto
	// statement) attached as a plain OCI referrer and signed with Notation.
	FormatNotationReferrer = "notation-referrer"
)

// attestationsOf fetches the attestations of target of the predicate types
// the checks ask for, and verifies them. AttestationsFound counts those
// fetched per the predicate type they claim.
func (v *Verifier) attestationsOf(ctx context.Context, repo *registry.Repo, target v1.Descriptor, checks []AttestationCheck, res *Result) *Error {
	key := attestationKey(target.Digest.String(), checks)
	if v.attestationsFromCache(key, res) { // not timed: the cache metrics count hits
		return nil
	}
	sw := newSplit()
	defer v.observe(sw, StepAttestationFetch, StepAttestationVerify)
	ctx, cancel := v.step(ctx)
	defer cancel()
	what := "fetching attestations of " + repo.Name().String() + "@" + target.Digest.String()
	var types []string
	for _, c := range checks {
		types = append(types, c.PredicateType)
	}
	limit := v.opts.MaxAttestationBytes
	if limit <= 0 {
		limit = attest.MaxBytes
	}
	t := time.Now()
	f, err := fetchAttestations(ctx, registry.WithBlobLimit(ctx, limit), repo, target.Digest, checks, types)
	sw.fetched(t) // a failed fetch is fetch time too
	if err != nil {
		return registryFailure(what, err)
	}
	res.Attestations, res.AttestationsFound = []Attestation{}, f.found(checks)
	var rejected []Rejection
	satisfied := 0
	for _, c := range checks {
		n := len(res.Attestations)
		for _, a := range c.Authorities {
			ats, rej := f.check(c, a, target.Digest)
			res.Attestations = append(res.Attestations, ats...)
			if len(ats) == 0 && rej != "" {
				rejected = append(rejected, Rejection{Authority: c.ID, Message: rej})
			}
		}
		if len(res.Attestations) > n {
			satisfied++
		}
	}
	res.Rejected = append(res.Rejected, rejected...)
	if v.opts.Cache != nil {
		v.opts.Cache.Put(key, cached{attestations: res.Attestations, attestationsFound: res.AttestationsFound, rejected: rejected}, satisfied == len(checks))
	}
	return nil
}

// fetchAttestations fetches every attestation of digest of the predicate
// types, in every format: envelopes and bundles under actx (the
// attestation blob limit), Notation signatures of attached documents under
// ctx (the signature limit). Documents are read only once a signature of
// theirs verifies (fetched.check).
func fetchAttestations(ctx, actx context.Context, repo *registry.Repo, digest v1.Hash, checks []AttestationCheck, types []string) (*fetched, error) {
	f := &fetched{}
	var err error
	sigCtx := ctx
	ctx = actx
	if f.legacy, err = attest.Fetch(ctx, repo, digest, types...); err != nil {
		return nil, err
	}
	src := &referrersOnce{Repo: repo} // DSSE referrers, bundles and documents: one listing
	if f.referred, err = attest.FetchReferrers(ctx, src, digest, types...); err != nil {
		return nil, err
	}
	if f.bundles, err = sigstorebundle.FetchAttestations(ctx, src, digest, types...); err != nil {
		return nil, err
	}
	if len(documentTypes(checks)) > 0 {
		if f.documents, err = fetchDocuments(sigCtx, actx, src, repo, digest, checks); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// fetched is every attestation found for one digest, by format.
type fetched struct {
	legacy    []cosign.Signed // .att layers: envelopes, with keyless annotations
	referred  [][]byte        // DSSE envelopes attached as referrers
	bundles   [][]byte        // sigstore bundles
	documents []notarized     // documents attached as referrers, with their Notation signatures
}

// notarized is a document attached as a referrer, with the Notation
// signatures of its manifest; unread when it has none.
type notarized struct {
	attest.Document
	signatures []notation.Signature
	// checked holds what each Notation authority made of the signatures,
	// by authority ID: checked once, when fetching, before reading.
	checked map[string]notarizedBy
	// unreadable says why a signed document could not be read.
	unreadable error
}

// notarizedBy is one authority's verdict on a document's signatures.
type notarizedBy struct {
	signature Signature
	revoked   []string
	ok        bool
}

// documentTypes lists the artifact types of the documents that checks with
// Notation authorities may be satisfied by; none without such checks.
func documentTypes(checks []AttestationCheck) []string {
	var out []string
	for _, c := range checks {
		if slices.ContainsFunc(c.Authorities, func(a Authority) bool { return a.Notation != nil }) {
			for _, t := range attest.DocumentTypes(c.PredicateType) {
				if !slices.Contains(out, t) {
					out = append(out, t)
				}
			}
		}
	}
	return out
}

// fetchDocuments finds the documents of the artifact types attached to
// digest and the Notation signatures of each (under ctx), then reads (under
// actx) only those a signature of which verifies for one of the checks, so
// unsigned documents can neither crowd out a signed one nor fail the
// verification: at most attest.MaxAttestations documents within the
// attestation byte budget. A document that cannot be read (gone, too
// large, over the budget, its signatures gone) is passed over with the
// reason; a registry that fails fails the fetch, as for every format.
func fetchDocuments(ctx, actx context.Context, src attest.ReferrerSource, repo *registry.Repo, digest v1.Hash, checks []AttestationCheck) ([]notarized, error) {
	docs, err := attest.FindDocuments(ctx, src, digest, documentTypes(checks))
	if err != nil {
		return nil, err
	}
	out := make([]notarized, 0, len(docs))
	read, budget, total := 0, registry.BlobLimit(actx, attest.MaxBytes), int64(0)
	for _, d := range docs {
		sigs, err := notation.Fetch(ctx, repo, d.Manifest.Digest)
		n := notarized{Document: d, signatures: sigs}
		if k := registry.KindOf(err); k == registry.NotFound || k == registry.Invalid {
			n.unreadable = fmt.Errorf("%w: its signatures: %v", attest.ErrUnreadable, err)
		} else if err != nil {
			return nil, err
		}
		switch {
		case len(sigs) == 0 || !n.checkSignatures(ctx, checks, repo.Name().String()):
		case read == attest.MaxAttestations || total+d.Layer.Size > budget:
			n.unreadable = fmt.Errorf("%w: more than %d signed documents or %d bytes attached", attest.ErrUnreadable, attest.MaxAttestations, budget)
		default:
			err := attest.ReadDocument(actx, repo, &n.Document)
			if errors.Is(err, attest.ErrUnreadable) {
				n.unreadable = err
			} else if err != nil {
				return nil, err
			}
			read, total = read+1, total+int64(len(n.Content))
		}
		out = append(out, n)
	}
	return out, nil
}

// checkSignatures checks n's signatures with every Notation authority of
// a check its artifact type could satisfy, keeps the verdicts, and reports
// whether one verified.
func (n *notarized) checkSignatures(ctx context.Context, checks []AttestationCheck, repo string) bool {
	n.checked = map[string]notarizedBy{}
	signed := false
	for _, c := range checks {
		if !slices.Contains(attest.DocumentTypes(c.PredicateType), n.ArtifactType) {
			continue
		}
		for _, a := range c.Authorities {
			if _, done := n.checked[a.ID]; a.Notation == nil || done {
				continue
			}
			s, revoked, ok := a.Notation.check(ctx, n.signatures, n.Manifest, repo+"@"+n.Manifest.Digest.String())
			n.checked[a.ID] = notarizedBy{signature: s, revoked: revoked, ok: ok}
			signed = signed || ok
		}
	}
	return signed
}

// found counts what was fetched by the predicate type it claims, unverified
// (a bare document counts for each check its artifact type could satisfy).
func (f *fetched) found(checks []AttestationCheck) map[string]int {
	found := map[string]int{}
	for _, l := range f.legacy {
		found[peekEnvelope(l.Payload)]++
	}
	for _, env := range f.referred {
		found[peekEnvelope(env)]++
	}
	for _, b := range f.bundles {
		if t := peekBundle(b); t != sigstorebundle.SignPredicateType {
			found[t]++
		}
	}
	for _, d := range f.documents {
		if d.ArtifactType == attest.InTotoArtifactType {
			found[peekStatement(d.Content)]++
			continue
		}
		var counted []string
		for _, c := range checks {
			if slices.Contains(attest.DocumentTypes(c.PredicateType), d.ArtifactType) && !slices.Contains(counted, c.PredicateType) {
				counted = append(counted, c.PredicateType)
				found[c.PredicateType]++
			}
		}
	}
	delete(found, "")
	return found
}

// attestationsFromCache fills res from a cached attestation entry.
func (v *Verifier) attestationsFromCache(key string, res *Result) bool {
	if v.opts.Cache == nil {
		return false
	}
	c, ok := v.opts.Cache.Get(key)
	if ok {
		res.Attestations, res.AttestationsFound = c.attestations, c.attestationsFound
		res.Rejected = append(res.Rejected, c.rejected...)
	}
	return ok
}

// check returns every attestation of c's predicate type that a verifies
// (a policy over reports picks the latest), or why a signed one of that
// type was refused.
func (f *fetched) check(c AttestationCheck, a Authority, digest v1.Hash) ([]Attestation, string) {
	var out []Attestation
	var refused string
	add := func(st *attest.Statement, format string, edit func(*Attestation)) {
		if st.PredicateType != c.PredicateType {
			return
		}
		p, err := attest.Parse(st.PredicateType, st.Predicate)
		if err != nil {
			refused = fmt.Sprintf("a %s attestation signed by %s was refused: %v", c.PredicateType, a.ID, err)
			return
		}
		at := Attestation{Requirement: c.ID, Authority: a.ID, PredicateType: st.PredicateType, Format: format, Predicate: p}
		if p.Kind == "other" {
			at.Raw = st.Predicate
		}
		if edit != nil {
			edit(&at)
		}
		out = append(out, at)
	}
	keyless := func(v *sigstorebundle.Verified) func(*Attestation) {
		return func(at *Attestation) { at.Certificate = keylessSignature(v, "").Certificate }
	}
	switch {
	case a.Key != nil:
		for _, l := range f.legacy {
			if st, err := openKeyed(l.Payload, a.Key, digest); err == nil {
				add(st, FormatCosignAtt, nil)
			}
		}
		for _, env := range f.referred {
			if st, err := openKeyed(env, a.Key, digest); err == nil {
				add(st, FormatDSSEReferrer, nil)
			}
		}
		for _, b := range f.bundles {
			if st, err := sigstorebundle.CheckAttestation(b, a.Key.Trusted(), digest); err == nil {
				add(st, FormatBundle, nil)
			}
		}
	case a.Keyless != nil:
		for _, l := range f.legacy { // cosign v2: certificate and timestamps in the layer's annotations
			if len(l.Certificate) == 0 {
				continue
			}
			b, err := l.AttestationBundle()
			if err != nil {
				continue
			}
			if st, ver, err := a.Keyless.checker.CheckLegacyAttestation(b, l.Payload, digest); err == nil {
				add(st, FormatCosignAtt, keyless(ver))
			}
		}
		for _, b := range f.bundles {
			if st, ver, err := a.Keyless.checker.CheckAttestation(b, digest); err == nil {
				add(st, FormatBundle, keyless(ver))
			}
		}
	case a.Notation != nil:
		for i := range f.documents {
			d := &f.documents[i]
			if !slices.Contains(attest.DocumentTypes(c.PredicateType), d.ArtifactType) {
				continue
			}
			if d.unreadable == nil && len(d.signatures) == 0 {
				continue // unsigned: never read
			}
			v := d.checked[a.ID] // checked when fetching
			for _, msg := range v.revoked {
				refused = fmt.Sprintf("a %s document signed by %s was refused: %s", d.ArtifactType, a.ID, msg)
			}
			if d.unreadable != nil && len(d.signatures) == 0 { // its signatures could not be fetched
				refused = fmt.Sprintf("a %s document was passed over: %v", d.ArtifactType, d.unreadable)
				continue
			}
			if !v.ok {
				continue
			}
			if d.Content == nil {
				if d.unreadable != nil {
					refused = fmt.Sprintf("a %s document signed by %s was passed over: %v", d.ArtifactType, a.ID, d.unreadable)
				}
				continue
			}
			st, err := attest.OpenDocument(d.Document, digest, c.PredicateType)
			if err != nil {
				refused = fmt.Sprintf("a %s document signed by %s was refused: %v", d.ArtifactType, a.ID, err)
				continue
			}
			add(st, FormatNotationReferrer, func(at *Attestation) { at.Notation = v.signature.Notation })
		}
	}
	return out, refused
}

func openKeyed(envelope []byte, k *Key, digest v1.Hash) (*attest.Statement, error) {
	env, err := attest.ParseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	payload, err := env.VerifyKey(k.verifier)
	if err != nil {
		return nil, err
	}
	return attest.Open(env.PayloadType, payload, digest)
}

// peekEnvelope returns the predicate type an unverified DSSE envelope
// claims, for counting only.
func peekEnvelope(raw []byte) string {
	env, err := attest.ParseEnvelope(raw)
	if err != nil {
		return ""
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return ""
	}
	return peekStatement(payload)
}

// peekStatement returns the predicate type an unverified in-toto
// statement claims, for counting only.
func peekStatement(payload []byte) string {
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	_ = json.Unmarshal(payload, &st)
	return st.PredicateType
}

// peekBundle returns the predicate type an unverified bundle's envelope
// claims, for counting only.
func peekBundle(raw []byte) string {
	var b struct {
		DSSE json.RawMessage `json:"dsseEnvelope"`
	}
	if json.Unmarshal(raw, &b) != nil || b.DSSE == nil {
		return ""
	}
	var env struct {
		Payload []byte `json:"payload"` // base64 in JSON
	}
	if json.Unmarshal(b.DSSE, &env) != nil {
		return ""
	}
	return peekStatement(env.Payload)
}

// referrersOnce is a registry.Repo that lists a digest's referrers once,
// for the fetchers that each look at them.
type referrersOnce struct {
	*registry.Repo
	digest v1.Hash
	refs   []v1.Descriptor
	listed bool
}

func (r *referrersOnce) Referrers(ctx context.Context, digest v1.Hash) ([]v1.Descriptor, error) {
	if r.listed && r.digest == digest {
		return r.refs, nil
	}
	refs, err := r.Repo.Referrers(ctx, digest)
	if err != nil {
		return nil, err
	}
	r.digest, r.refs, r.listed = digest, refs, true
	return refs, nil
}
