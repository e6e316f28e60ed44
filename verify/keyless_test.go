package verify_test

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

const (
	ciSubject = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"
	ciIssuer  = "https://token.actions.githubusercontent.com"
)

func keylessAuthority(t *testing.T, id, trustedRoot string, logs int, ids ...verify.Identity) verify.Authority {
	t.Helper()
	k, err := verify.NewKeyless([]byte(trustedRoot), ids, logs)
	if err != nil {
		t.Fatal(err)
	}
	return verify.Authority{ID: id, Keyless: k}
}

func TestNewKeyless(t *testing.T) {
	trustedRoot := verifytest.NewSigstore(t).TrustedRoot(t, verifytest.RootOptions{})
	tests := []struct {
		name    string
		root    string
		id      verify.Identity
		wantErr string
	}{
		{name: "exact", root: trustedRoot, id: verify.Identity{Issuer: ciIssuer, Subject: ciSubject}},
		{name: "anchored regexps", root: trustedRoot, id: verify.Identity{IssuerRegExp: `^https://token\.actions\.githubusercontent\.com$`, SubjectRegExp: `^https://github\.com/org/(app|lib)/.+$`}},
		{name: "unanchored subject", root: trustedRoot, id: verify.Identity{Issuer: ciIssuer, SubjectRegExp: `https://github\.com/org/.+`},
			wantErr: `subjectRegExp "https://github\\.com/org/.+": must match the whole value: start it with ^ and end it with $`},
		{name: "only the start anchored", root: trustedRoot, id: verify.Identity{IssuerRegExp: `^https://issuer`, Subject: ciSubject}, wantErr: "issuerRegExp"},
		{name: "alternation escapes the anchors", root: trustedRoot, id: verify.Identity{Issuer: ciIssuer, SubjectRegExp: `^a@example\.com|b@example\.com$`},
			wantErr: `e.g. "^(a@example\\.com|b@example\\.com)$"`},
		{name: "multi-line anchors", root: trustedRoot, id: verify.Identity{Issuer: ciIssuer, SubjectRegExp: `(?m)^a@example\.com$`}, wantErr: "must match the whole value"},
		{name: "escaped dollar is no anchor", root: trustedRoot, id: verify.Identity{Issuer: ciIssuer, SubjectRegExp: `^a\$`}, wantErr: "must match the whole value"},
		{name: "invalid regexp", root: trustedRoot, id: verify.Identity{Issuer: ciIssuer, SubjectRegExp: `^(a$`}, wantErr: "not a valid regular expression"},
		{name: "no issuer", root: trustedRoot, id: verify.Identity{Subject: ciSubject}, wantErr: "set issuer (exact) or issuerRegExp"},
		{name: "no subject", root: trustedRoot, id: verify.Identity{Issuer: ciIssuer}, wantErr: "set subject (exact) or subjectRegExp"},
		{name: "exact and regexp", root: trustedRoot, id: verify.Identity{Issuer: ciIssuer, IssuerRegExp: "^x$", Subject: ciSubject}, wantErr: "set issuer or issuerRegExp, not both"},
		{name: "trusted root not JSON", root: "{", id: verify.Identity{Issuer: ciIssuer, Subject: ciSubject}, wantErr: "trusted root:"},
		{name: "trusted root without CA", root: `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`, id: verify.Identity{Issuer: ciIssuer, Subject: ciSubject},
			wantErr: "no certificate authority"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := verify.NewKeyless([]byte(tc.root), []verify.Identity{tc.id}, 1)
			if tc.wantErr == "" {
				if err != nil || !strings.HasPrefix(k.ID, "sha256:") {
					t.Fatalf("NewKeyless = %v, %v", k, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// Keyless signatures verify through the registry like key ones; the result
// carries the certificate identity, log entries and timestamps.
func TestVerifyKeyless(t *testing.T) {
	host := verifytest.Registry(t)
	sigstore, stranger := verifytest.NewSigstore(t), verifytest.NewSigstore(t)
	ci := verifytest.NewKey(t)
	image := host + "/app/keyless"
	d := verifytest.PushImage(t, image+":v1")
	verifytest.SignBundleKeyless(t, image, d, sigstore, ciSubject, ciIssuer, verifytest.KeylessOptions{})
	verifytest.SignBundle(t, image, d, ci)
	trustedRoot := sigstore.TrustedRoot(t, verifytest.RootOptions{})
	exact := verify.Identity{Issuer: ciIssuer, Subject: ciSubject}

	tests := []struct {
		name       string
		authority  verify.Authority
		wantSigned bool
	}{
		{name: "exact identity", authority: keylessAuthority(t, "p/exact", trustedRoot, 1, exact), wantSigned: true},
		{name: "regexp identity", authority: keylessAuthority(t, "p/re", trustedRoot, 1,
			verify.Identity{Issuer: ciIssuer, SubjectRegExp: `^https://github\.com/org/[^/]+/\.github/workflows/release\.yaml@refs/heads/main$`}), wantSigned: true},
		{name: "any one identity", authority: keylessAuthority(t, "p/any", trustedRoot, 1,
			verify.Identity{Issuer: ciIssuer, Subject: "someone@example.com"}, exact), wantSigned: true},
		{name: "wrong subject", authority: keylessAuthority(t, "p/subject", trustedRoot, 1, verify.Identity{Issuer: ciIssuer, Subject: ciSubject + "x"})},
		{name: "wrong issuer", authority: keylessAuthority(t, "p/issuer", trustedRoot, 1, verify.Identity{Issuer: "https://accounts.google.com", Subject: ciSubject})},
		{name: "trusted root of another sigstore", authority: keylessAuthority(t, "p/stranger", stranger.TrustedRoot(t, verifytest.RootOptions{}), 1, exact)},
		{name: "key authority next to keyless signatures", authority: authority(t, "p/key", ci), wantSigned: true},
	}
	v := newVerifier(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := v.Verify(context.Background(), verify.Request{Image: image + ":v1", Authorities: []verify.Authority{tc.authority}})
			if r.Error != nil || r.SignedBy(tc.authority.ID) != tc.wantSigned || r.SignaturesFound != 2 {
				t.Fatalf("error %v signed %v found %d; want signed %v, 2 found", r.Error, r.SignedBy(tc.authority.ID), r.SignaturesFound, tc.wantSigned)
			}
		})
	}

	r := v.Verify(context.Background(), verify.Request{Image: image + ":v1", Authorities: []verify.Authority{tests[0].authority}})
	s := r.Signatures[0]
	if s.Type != verify.TypeCosignKeylessBundle || s.KeyID != "" || s.Certificate == nil ||
		s.Certificate.Subject != ciSubject || s.Certificate.Issuer != ciIssuer {
		t.Fatalf("signature %+v, certificate %+v", s, s.Certificate)
	}
	if len(s.LogEntries) != 1 || s.LogEntries[0].LogID != sigstore.LogID() || s.LogEntries[0].IntegratedTime == nil {
		t.Errorf("log entries %+v, want one in %s", s.LogEntries, sigstore.LogID())
	}
	sources := map[string]bool{}
	for _, ts := range s.Timestamps {
		sources[ts.Source] = !ts.Time.IsZero()
	}
	if !sources["tlog"] || !sources["tsa"] {
		t.Errorf("timestamps %+v, want a log's and a timestamp authority's", s.Timestamps)
	}
}

// cosign v2 keyless signatures (legacy .sig tag: certificate, Rekor bundle
// and timestamp annotations) verify under the same authorities as bundles.
func TestVerifyLegacyKeyless(t *testing.T) {
	host := verifytest.Registry(t)
	sigstore, stranger := verifytest.NewSigstore(t), verifytest.NewSigstore(t)
	trustedRoot := sigstore.TrustedRoot(t, verifytest.RootOptions{})
	exact := verify.Identity{Issuer: ciIssuer, Subject: ciSubject}
	tests := []struct {
		name       string
		signer     *verifytest.Sigstore
		subject    string
		opts       verifytest.LegacyKeylessOptions
		payloadFor string // sign the payload of another image
		logs       int
		wantSigned bool
	}{
		{name: "cosign v2 keyless", logs: 1, wantSigned: true},
		{name: "log entry and timestamp", opts: verifytest.LegacyKeylessOptions{Timestamp: true}, logs: 1, wantSigned: true},
		{name: "timestamp only, threshold 0", opts: verifytest.LegacyKeylessOptions{NoLogEntry: true, Timestamp: true}, logs: 0, wantSigned: true},
		{name: "no log entry, one required", opts: verifytest.LegacyKeylessOptions{NoLogEntry: true, Timestamp: true}, logs: 1},
		{name: "neither log entry nor timestamp", opts: verifytest.LegacyKeylessOptions{NoLogEntry: true}, logs: 0},
		{name: "log entry of another signature", opts: verifytest.LegacyKeylessOptions{LogEntryOf: []byte(`{"critical":{}}`)}, logs: 1},
		{name: "another subject", subject: "mallory@example.com", logs: 1},
		{name: "certificate of another sigstore", signer: stranger, logs: 1},
		{name: "a valid signature of another image", payloadFor: "sha256:" + strings.Repeat("a", 64), logs: 1},
	}
	v := newVerifier(t, nil)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			image := fmt.Sprintf("%s/app/legacy%d", host, i)
			d := verifytest.PushImage(t, image+":v1")
			signer, subject := cmp.Or(tc.signer, sigstore), cmp.Or(tc.subject, ciSubject)
			payload := verifytest.Payload(image, d)
			if tc.payloadFor != "" {
				payload = verifytest.Payload(image, v1.Hash{Algorithm: "sha256", Hex: tc.payloadFor[len("sha256:"):]})
			}
			annotations, err := signer.LegacyKeyless(payload, subject, ciIssuer, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifytest.AttachAnnotated(image, d, payload, annotations); err != nil {
				t.Fatal(err)
			}
			a := keylessAuthority(t, "p/legacy", trustedRoot, tc.logs, exact)
			r := v.Verify(context.Background(), verify.Request{Image: image + ":v1", Authorities: []verify.Authority{a}})
			if r.Error != nil || r.SignedBy(a.ID) != tc.wantSigned || r.SignaturesFound != 1 {
				t.Fatalf("error %v signed %v found %d; want signed %v, 1 found", r.Error, r.SignedBy(a.ID), r.SignaturesFound, tc.wantSigned)
			}
			if !tc.wantSigned {
				return
			}
			s := r.Signatures[0]
			if s.Type != verify.TypeCosignKeyless || s.Certificate == nil || s.Certificate.Subject != ciSubject || s.Certificate.Issuer != ciIssuer {
				t.Fatalf("signature %+v", s)
			}
			if wantEntries := tc.logs; len(s.LogEntries) != wantEntries {
				t.Errorf("log entries %+v, want %d", s.LogEntries, wantEntries)
			}
		})
	}
}

// Keyless attestations in cosign v2's .att format: the certificate, log
// entry and RFC 3161 timestamp ride in the layer's annotations, and the
// timestamp covers the whole stored envelope, not its signature.
func TestVerifyLegacyKeylessAttestations(t *testing.T) {
	host := verifytest.Registry(t)
	sigstore, stranger := verifytest.NewSigstore(t), verifytest.NewSigstore(t)
	trustedRoot := sigstore.TrustedRoot(t, verifytest.RootOptions{})
	exact := verify.Identity{Issuer: ciIssuer, Subject: ciSubject}
	const slsa = "https://slsa.dev/provenance/v1"
	provenance := []byte(`{"buildDefinition":{"buildType":"https://example.com/build/v1"},"runDetails":{"builder":{"id":"https://github.com/org/builder"}}}`)
	tests := []struct {
		name           string
		signer         *verifytest.Sigstore
		subject        string
		opts           verifytest.LegacyKeylessOptions
		stampSignature bool
		otherImage     bool // the statement is about another image
		logs           int
		want           bool
	}{
		{name: "cosign v2 keyless attest", logs: 1, want: true},
		{name: "log entry and a timestamp over the envelope", opts: verifytest.LegacyKeylessOptions{Timestamp: true}, logs: 1, want: true},
		{name: "timestamp over the envelope only, threshold 0", opts: verifytest.LegacyKeylessOptions{NoLogEntry: true, Timestamp: true}, logs: 0, want: true},
		{name: "timestamp over the signature, not what cosign v2 stamps", opts: verifytest.LegacyKeylessOptions{NoLogEntry: true, Timestamp: true}, stampSignature: true, logs: 0},
		{name: "no log entry, one required", opts: verifytest.LegacyKeylessOptions{NoLogEntry: true, Timestamp: true}, logs: 1},
		{name: "neither log entry nor timestamp", opts: verifytest.LegacyKeylessOptions{NoLogEntry: true}, logs: 0},
		{name: "another subject", subject: "mallory@example.com", logs: 1},
		{name: "certificate of another sigstore", signer: stranger, logs: 1},
		{name: "a statement about another image", otherImage: true, logs: 1},
	}
	v := newVerifier(t, nil)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			image := fmt.Sprintf("%s/app/legacy-att%d", host, i)
			d := verifytest.PushImage(t, image+":v1")
			signer, subject := cmp.Or(tc.signer, sigstore), cmp.Or(tc.subject, ciSubject)
			about := d
			if tc.otherImage {
				about = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
			}
			env, annotations, err := signer.LegacyKeylessAttestation(verifytest.InTotoStatement(image, about, slsa, provenance), subject, ciIssuer, tc.opts, tc.stampSignature)
			if err != nil {
				t.Fatal(err)
			}
			annotations["predicateType"] = slsa
			verifytest.AttachAnnotatedAttestation(t, image, d, env, annotations)
			a := keylessAuthority(t, "p/attestations/a/ci", trustedRoot, tc.logs, exact)
			r := v.Verify(context.Background(), verify.Request{Image: image + ":v1",
				Attestations: []verify.AttestationCheck{{ID: "p/attestations/a", PredicateType: slsa, Authorities: []verify.Authority{a}}}})
			if r.Error != nil || r.AttestationsFound[slsa] != 1 {
				t.Fatalf("error %v, found %v", r.Error, r.AttestationsFound)
			}
			if got := len(r.Attestations) == 1; got != tc.want {
				t.Fatalf("verified %v, want %v: %+v (rejected %+v)", got, tc.want, r.Attestations, r.Rejected)
			}
			if !tc.want {
				return
			}
			at := r.Attestations[0]
			if at.Format != verify.FormatCosignAtt || at.Certificate == nil || at.Certificate.Subject != ciSubject || at.Certificate.Issuer != ciIssuer ||
				at.Provenance == nil || at.Provenance.BuilderID != "https://github.com/org/builder" {
				t.Fatalf("attestation %+v", at)
			}
		})
	}
}
