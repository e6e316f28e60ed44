package verify_test

import (
	"context"
	"fmt"
	"gatehouse.dev/gatehouse/verify/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

const provenance = `{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1","externalParameters":{"workflow":{"repository":"https://github.com/example-org/api","ref":"refs/heads/main","path":".github/workflows/release.yml"}}},"runDetails":{"builder":{"id":"https://github.com/actions/runner/github-hosted"}}}`

// Attestations count when an authority of the check signed them, as cosign
// v2 (.att tag) or v3 (bundle referrer) attaches them, and the statement is
// about this image with the checked predicate type.
func TestVerifyAttestations(t *testing.T) {
	host := verifytest.Registry(t)
	ci, builder, other := verifytest.NewKey(t), verifytest.NewKey(t), verifytest.NewKey(t)
	push := func(repo string) (string, string) {
		d := verifytest.PushImage(t, host+"/"+repo+":v1")
		verifytest.Sign(t, host+"/"+repo, d, ci, verifytest.Payload(host+"/"+repo, d))
		return host + "/" + repo, d.String()
	}
	legacy, legacyDigest := push("att/legacy")
	verifytest.Attest(t, legacy, mustHash(t, legacyDigest), builder, attest.SLSAProvenanceV1, []byte(provenance))
	verifytest.Attest(t, legacy, mustHash(t, legacyDigest), builder, "https://example.com/custom/v1", []byte(`{"team":"api"}`))
	referred, referredDigest := push("att/referrer")
	verifytest.AttestReferrer(t, referred, mustHash(t, referredDigest), builder, attest.SLSAProvenanceV1, []byte(provenance))
	bundled, bundledDigest := push("att/bundle")
	verifytest.AttestBundle(t, bundled, mustHash(t, bundledDigest), builder, attest.SLSAProvenanceV1, []byte(provenance))
	foreign, foreignDigest := push("att/foreign")
	verifytest.Attest(t, foreign, mustHash(t, foreignDigest), other, attest.SLSAProvenanceV1, []byte(provenance))
	replayed, replayedDigest := push("att/replayed")
	env := verifytest.DSSE(t, builder, attest.InTotoPayloadType, verifytest.InTotoStatement(legacy, mustHash(t, legacyDigest), attest.SLSAProvenanceV1, []byte(provenance)))
	verifytest.AttachAttestation(t, replayed, mustHash(t, replayedDigest), env, attest.SLSAProvenanceV1)
	malformed, malformedDigest := push("att/malformed")
	verifytest.Attest(t, malformed, mustHash(t, malformedDigest), builder, attest.CycloneDX, []byte(`{"bomFormat":"SPDX"}`))

	key := func(k *verifytest.Key, id string) verify.Authority {
		parsed, err := verify.ParseKey(k.PublicPEM, "")
		if err != nil {
			t.Fatal(err)
		}
		return verify.Authority{ID: id, Key: parsed}
	}
	signer := key(ci, "p/ci")
	check := func(predicateType string) verify.AttestationCheck {
		return verify.AttestationCheck{ID: "p/attestations/a", PredicateType: predicateType, Authorities: []verify.Authority{key(builder, "p/attestations/a/builder")}}
	}
	v := newVerifier(t, nil)
	tests := []struct {
		name, image   string
		check         verify.AttestationCheck
		wantFormat    string // "" when none verifies
		wantFound     int
		wantRejection string
	}{
		{name: "cosign v2 .att", image: legacy + "@" + legacyDigest, check: check(attest.SLSAProvenanceV1), wantFormat: verify.FormatCosignAtt, wantFound: 1},
		{name: "cosign v3 bundle", image: bundled + "@" + bundledDigest, check: check(attest.SLSAProvenanceV1), wantFormat: verify.FormatBundle, wantFound: 1},
		{name: "DSSE envelope as a plain OCI referrer", image: referred + "@" + referredDigest, check: check(attest.SLSAProvenanceV1), wantFormat: verify.FormatDSSEReferrer, wantFound: 1},
		{name: "unknown predicate type, raw", image: legacy + "@" + legacyDigest, check: check("https://example.com/custom/v1"), wantFormat: verify.FormatCosignAtt, wantFound: 1},
		{name: "another predicate type", image: legacy + "@" + legacyDigest, check: check(attest.CycloneDX)},
		{name: "signed by another key", image: foreign + "@" + foreignDigest, check: check(attest.SLSAProvenanceV1), wantFound: 1},
		{name: "statement about another image", image: replayed + "@" + replayedDigest, check: check(attest.SLSAProvenanceV1), wantFound: 1},
		{name: "malformed predicate", image: malformed + "@" + malformedDigest, check: check(attest.CycloneDX), wantFound: 1, wantRejection: `bomFormat "SPDX", want CycloneDX`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := v.Verify(context.Background(), verify.Request{Image: tc.image, Authorities: []verify.Authority{signer}, Attestations: []verify.AttestationCheck{tc.check}})
			if r.Error != nil || !r.SignedBy("p/ci") {
				t.Fatalf("error %v, signed %v", r.Error, r.SignedBy("p/ci"))
			}
			if r.AttestationsFound[tc.check.PredicateType] != tc.wantFound {
				t.Errorf("found %v, want %d of %s", r.AttestationsFound, tc.wantFound, tc.check.PredicateType)
			}
			if tc.wantFormat == "" {
				if len(r.Attestations) != 0 {
					t.Fatalf("attestations %+v, want none", r.Attestations)
				}
				if tc.wantRejection != "" && (len(r.Rejected) != 1 || !strings.Contains(r.Rejected[0].Message, tc.wantRejection)) {
					t.Fatalf("rejected %+v, want %q", r.Rejected, tc.wantRejection)
				}
				return
			}
			if len(r.Attestations) != 1 {
				t.Fatalf("attestations %+v", r.Attestations)
			}
			a := r.Attestations[0]
			if a.Requirement != "p/attestations/a" || a.Authority != "p/attestations/a/builder" || a.Format != tc.wantFormat || a.PredicateType != tc.check.PredicateType {
				t.Fatalf("attestation %+v", a)
			}
			switch a.Kind {
			case "provenance":
				if a.Provenance.SourceRepository != "https://github.com/example-org/api" || a.Raw != nil {
					t.Fatalf("provenance %+v raw %s", a.Provenance, a.Raw)
				}
			case "other":
				if string(a.Raw) != `{"team":"api"}` {
					t.Fatalf("raw %s", a.Raw)
				}
			default:
				t.Fatalf("kind %q", a.Kind)
			}
		})
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Verified attestations and configurations are cached by digest: a second
// admission of a pinned image asks the registry nothing.
func TestAttestationsCached(t *testing.T) {
	req := signedAndAttested(t, "cached")
	counting := &countingTransport{}
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{Transport: counting}), Cache: verify.NewCache(100, time.Hour, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	req.Config = true
	first := v.Verify(context.Background(), req)
	calls := counting.n.Load()
	second := v.Verify(context.Background(), req)
	if first.Error != nil || len(first.Attestations) != 1 || first.Config == nil || calls == 0 {
		t.Fatalf("first: %+v after %d calls", first, calls)
	}
	if got := counting.n.Load(); got != calls || !second.Cached || len(second.Attestations) != 1 || second.Config == nil {
		t.Fatalf("second: %d more registry calls, result %+v", got-calls, second)
	}
}

// signedAndAttested pushes an image to a new registry, signs it with one
// key and attests its provenance with another, and returns the request
// that verifies both, by digest.
func signedAndAttested(t *testing.T, name string) verify.Request {
	t.Helper()
	host := verifytest.Registry(t)
	ci, builder := verifytest.NewKey(t), verifytest.NewKey(t)
	repo := host + "/att/" + name
	d := verifytest.PushImage(t, repo+":v1")
	verifytest.Sign(t, repo, d, ci, verifytest.Payload(repo, d))
	verifytest.Attest(t, repo, d, builder, attest.SLSAProvenanceV1, []byte(provenance))
	signer, err := verify.ParseKey(ci.PublicPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	att, err := verify.ParseKey(builder.PublicPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	return verify.Request{Image: repo + "@" + d.String(), Authorities: []verify.Authority{{ID: "p/ci", Key: signer}},
		Attestations: []verify.AttestationCheck{{ID: "p/attestations/a", PredicateType: attest.SLSAProvenanceV1, Authorities: []verify.Authority{{ID: "p/attestations/a/b", Key: att}}}}}
}

type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// Attestations pile up in the .att manifest as an image is rescanned: the
// newest are read, the oldest ignored, and the pile is never a reason to
// deny.
func TestAttestationsPileUp(t *testing.T) {
	host := verifytest.Registry(t)
	builder := verifytest.NewKey(t)
	repo := host + "/att/rescanned"
	d := verifytest.PushImage(t, repo+":v1")
	for i := range 70 {
		report := fmt.Sprintf(`{"scanner":{"uri":"trivy","result":{"Results":[]}},"metadata":{"scanFinishedOn":"2026-10-%02dT00:00:00Z"}}`, i%28+1)
		if i == 69 {
			report = `{"scanner":{"uri":"trivy","result":{"Results":[]}},"metadata":{"scanFinishedOn":"2026-12-06T00:00:00Z"}}`
		}
		verifytest.Attest(t, repo, d, builder, attest.CosignVuln, []byte(report))
	}
	key, err := verify.ParseKey(builder.PublicPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	r := newVerifier(t, nil).Verify(context.Background(), verify.Request{Image: repo + "@" + d.String(),
		Attestations: []verify.AttestationCheck{{ID: "p/attestations/scan", PredicateType: attest.CosignVuln, Authorities: []verify.Authority{{ID: "p/attestations/scan/b", Key: key}}}}})
	if r.Error != nil || len(r.Attestations) != attest.MaxAttestations {
		t.Fatalf("error %v, %d attestations", r.Error, len(r.Attestations))
	}
	if got := r.Attestations[0].Vulnerabilities.ScanFinishedOn.Format("2006-01-02"); got != "2026-12-06" {
		t.Fatalf("newest read first: %s, want 2026-12-06", got)
	}
}

// Each verification step is timed apart: registry fetches are counted to the
// fetch steps, checking to the verify steps, and a cache hit to neither.
func TestStepsTimed(t *testing.T) {
	req := signedAndAttested(t, "steps")
	const delay = 20 * time.Millisecond // each registry request takes at least this long
	steps := &stepRecorder{}
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{Transport: slowTransport(delay)}), Cache: verify.NewCache(100, time.Hour, time.Minute), Observer: steps})
	if err != nil {
		t.Fatal(err)
	}
	if res := v.Verify(context.Background(), req); res.Error != nil || len(res.Attestations) != 1 {
		t.Fatalf("verify: %+v", res)
	}
	got := steps.take()
	for _, s := range []string{verify.StepResolve, verify.StepSignatureFetch, verify.StepSignatureVerify, verify.StepAttestationFetch, verify.StepAttestationVerify} {
		if len(got[s]) != 1 {
			t.Errorf("step %s observed %d times, want once: %v", s, len(got[s]), got)
		}
	}
	for _, s := range []string{verify.StepSignatureFetch, verify.StepAttestationFetch} {
		if len(got[s]) == 1 && got[s][0] < delay {
			t.Errorf("step %s took %v, less than one registry request (%v): fetches are not counted to it", s, got[s][0], delay)
		}
	}
	if res := v.Verify(context.Background(), req); !res.Cached {
		t.Fatalf("second verification not cached: %+v", res)
	}
	if got := steps.take(); len(got) != 0 {
		t.Errorf("a cache hit was timed: %v", got)
	}
}

type stepRecorder struct {
	mu    sync.Mutex
	steps map[string][]time.Duration
}

func (r *stepRecorder) ObserveStep(step string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.steps == nil {
		r.steps = map[string][]time.Duration{}
	}
	r.steps[step] = append(r.steps[step], d)
}

func (r *stepRecorder) take() map[string][]time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.steps
	r.steps = nil
	return s
}

type slowTransport time.Duration

func (s slowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	time.Sleep(time.Duration(s))
	return http.DefaultTransport.RoundTrip(r)
}
