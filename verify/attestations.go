package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/cosign"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/sigstorebundle"
)

// AttestationCheck asks for attestations of one predicate type, signed by
// any of its authorities (which need not be the image's signers).
type AttestationCheck struct {
	// ID names the requirement: "<policy>/<name>".
	ID            string
	PredicateType string
	// Authorities are key or keyless authorities.
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
	// "dsse-referrer" (a DSSE envelope attached as a plain OCI referrer) or
	// "bundle" (a sigstore bundle, cosign v3).
	Format string `json:"format"`
	// Certificate is the signer of a keyless attestation.
	Certificate *Certificate `json:"certificate,omitempty"`
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
	t := time.Now()
	legacy, err := attest.Fetch(ctx, repo, target.Digest, types...)
	if err != nil {
		return registryFailure(what, err)
	}
	src := &referrersOnce{Repo: repo} // DSSE referrers and bundles: one listing
	referred, err := attest.FetchReferrers(ctx, src, target.Digest, types...)
	if err != nil {
		return registryFailure(what, err)
	}
	bundles, err := sigstorebundle.FetchAttestations(ctx, src, target.Digest, types...)
	if err != nil {
		return registryFailure(what, err)
	}
	sw.fetched(t)
	res.Attestations, res.AttestationsFound = []Attestation{}, map[string]int{}
	var stored [][]byte // the .att envelopes
	for _, l := range legacy {
		stored = append(stored, l.Payload)
	}
	for _, env := range append(slices.Clone(stored), referred...) {
		res.AttestationsFound[peekEnvelope(env)]++
	}
	for _, b := range bundles {
		if t := peekBundle(b); t != sigstorebundle.SignPredicateType {
			res.AttestationsFound[t]++
		}
	}
	delete(res.AttestationsFound, "")
	var rejected []Rejection
	satisfied := 0
	for _, c := range checks {
		n := len(res.Attestations)
		for _, a := range c.Authorities {
			ats, rej := checkAttestation(c, a, envelopes{FormatCosignAtt: stored, FormatDSSEReferrer: referred}, legacy, bundles, target.Digest)
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

// envelopes are DSSE envelopes by the format they were found in.
type envelopes map[string][][]byte

// checkAttestation returns every attestation of c's predicate type that a
// verifies (a policy over reports picks the latest), or why a signed one of
// that type was refused.
func checkAttestation(c AttestationCheck, a Authority, dsse envelopes, legacy []cosign.Signed, bundles [][]byte, digest v1.Hash) ([]Attestation, string) {
	var out []Attestation
	var refused string
	try := func(st *attest.Statement, format string, cert *Certificate) *Attestation {
		if st.PredicateType != c.PredicateType {
			return nil
		}
		p, err := attest.Parse(st.PredicateType, st.Predicate)
		if err != nil {
			refused = fmt.Sprintf("a %s attestation signed by %s was refused: %v", c.PredicateType, a.ID, err)
			return nil
		}
		at := &Attestation{Requirement: c.ID, Authority: a.ID, PredicateType: st.PredicateType, Format: format, Certificate: cert, Predicate: p}
		if p.Kind == "other" {
			at.Raw = st.Predicate
		}
		return at
	}
	if a.Key != nil {
		for _, format := range []string{FormatCosignAtt, FormatDSSEReferrer} {
			for _, env := range dsse[format] {
				if st, err := openKeyed(env, a.Key, digest); err == nil {
					if at := try(st, format, nil); at != nil {
						out = append(out, *at)
					}
				}
			}
		}
	}
	if a.Keyless != nil { // cosign v2 keyless: certificate and timestamps in the .att layer's annotations
		for _, l := range legacy {
			if len(l.Certificate) == 0 {
				continue
			}
			b, err := l.AttestationBundle()
			if err != nil {
				continue
			}
			if st, ver, err := a.Keyless.checker.CheckLegacyAttestation(b, l.Payload, digest); err == nil {
				if at := try(st, FormatCosignAtt, keylessSignature(ver, "").Certificate); at != nil {
					out = append(out, *at)
				}
			}
		}
	}
	for _, b := range bundles {
		var st *attest.Statement
		var cert *Certificate
		var err error
		switch {
		case a.Key != nil:
			st, err = sigstorebundle.CheckAttestation(b, a.Key.Trusted(), digest)
		case a.Keyless != nil:
			var ver *sigstorebundle.Verified
			if st, ver, err = a.Keyless.checker.CheckAttestation(b, digest); err == nil {
				cert = keylessSignature(ver, "").Certificate
			}
		default:
			continue
		}
		if err == nil {
			if at := try(st, FormatBundle, cert); at != nil {
				out = append(out, *at)
			}
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
		Payload    string `json:"payload"`
		Signatures []any  `json:"signatures"`
	}
	if json.Unmarshal(b.DSSE, &env) != nil {
		return ""
	}
	return peekEnvelope([]byte(fmt.Sprintf(`{"payload":%q,"signatures":[{}]}`, env.Payload)))
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
