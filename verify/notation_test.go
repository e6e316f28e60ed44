package verify_test

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

const releaseIdentity = "x509.subject: C=US, ST=WA, O=example, CN=release"

var releaseSubject = pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"example"}, CommonName: "release"}

func notationAuthority(t *testing.T, id string, ca *verifytest.NotationCA, level string, identities ...string) verify.Authority {
	t.Helper()
	n, err := verify.NewNotation(verify.NotationConfig{Stores: []verify.NotationStore{{Type: "ca", Name: "release", PEM: ca.PEM}}, TrustedIdentities: identities, Level: level})
	if err != nil {
		t.Fatal(err)
	}
	return verify.Authority{ID: id, Notation: n}
}

// Notation signatures count when notation-go verifies them under the
// authority's trust policy for this very image manifest.
func TestVerifyNotation(t *testing.T) {
	host := verifytest.Registry(t)
	ca, otherCA := verifytest.NewNotationCA(t, "release-ca"), verifytest.NewNotationCA(t, "other-ca")
	release := ca.Signer(t, releaseSubject, time.Now().Add(24*time.Hour))

	// An expiring certificate first, so that it has expired by the time the
	// other images are ready.
	notAfter := time.Now().Add(2 * time.Second).Truncate(time.Second)
	expiring := host + "/app/expired"
	expiringDigest := verifytest.PushImage(t, expiring+":v1")
	verifytest.SignNotation(t, expiring, expiringDigest, ca.Signer(t, releaseSubject, notAfter), verifytest.NotationJWS)

	push := func(repo string) (string, v1.Hash) {
		return host + "/" + repo, verifytest.PushImage(t, host+"/"+repo+":v1")
	}
	jws, jwsDigest := push("app/jws")
	verifytest.SignNotation(t, jws, jwsDigest, release, verifytest.NotationJWS)
	cose, coseDigest := push("app/cose")
	verifytest.SignNotation(t, cose, coseDigest, release, verifytest.NotationCOSE)
	configTyped, configDigest := push("app/configtyped")
	env := verifytest.NotationEnvelope(t, release, verifytest.Descriptor(t, configTyped, configDigest), verifytest.NotationCOSE)
	verifytest.AttachNotation(t, configTyped, configDigest, env, verifytest.NotationCOSE, verifytest.NotationConfig)
	builder, builderDigest := push("app/builder")
	verifytest.SignNotation(t, builder, builderDigest, ca.Signer(t, pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"example"}, CommonName: "builder"}, time.Now().Add(time.Hour)), verifytest.NotationJWS)
	foreign, foreignDigest := push("app/foreign")
	verifytest.SignNotation(t, foreign, foreignDigest, otherCA.Signer(t, releaseSubject, time.Now().Add(time.Hour)), verifytest.NotationJWS)
	moved, movedDigest := push("app/moved")
	other, otherDigest := push("app/other")
	env = verifytest.NotationEnvelope(t, release, verifytest.Descriptor(t, other, otherDigest), verifytest.NotationJWS)
	verifytest.AttachNotation(t, moved, movedDigest, env, verifytest.NotationJWS, verifytest.NotationArtifact)
	time.Sleep(time.Until(notAfter.Add(time.Second)))

	strict := notationAuthority(t, "p/release", ca, "", releaseIdentity)
	permissive := notationAuthority(t, "p/release", ca, "permissive", releaseIdentity)
	v := newVerifier(t, nil)
	tests := []struct {
		name         string
		image        string
		authority    verify.Authority
		wantSigned   bool
		wantEnvelope string
	}{
		{name: "jws verifies", image: jws + ":v1", authority: strict, wantSigned: true, wantEnvelope: "jws"},
		{name: "cose verifies", image: cose + ":v1", authority: strict, wantSigned: true, wantEnvelope: "cose"},
		{name: "manifest typed by its config verifies", image: configTyped + ":v1", authority: strict, wantSigned: true, wantEnvelope: "cose"},
		{name: "identity not trusted", image: builder + ":v1", authority: strict},
		{name: "certificate from another CA", image: foreign + ":v1", authority: strict},
		{name: "signature of another digest", image: moved + ":v1", authority: strict},
		{name: "expired certificate under strict", image: expiring + ":v1", authority: strict},
		{name: "expired certificate under permissive", image: expiring + ":v1", authority: permissive, wantSigned: true, wantEnvelope: "jws"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := v.Verify(context.Background(), verify.Request{Image: tc.image, Authorities: []verify.Authority{tc.authority}})
			if r.Error != nil || r.SignaturesFound != 1 || r.SignedBy("p/release") != tc.wantSigned {
				t.Fatalf("error %v, found %d, signed %v; want no error, 1 found, signed %v", r.Error, r.SignaturesFound, r.SignedBy("p/release"), tc.wantSigned)
			}
			if !tc.wantSigned {
				return
			}
			s := r.Signatures[0]
			if s.Type != verify.TypeNotation || s.Notation == nil || s.Notation.Envelope != tc.wantEnvelope ||
				s.Notation.Subject != "CN=release,O=example,ST=WA,C=US" || s.Notation.SigningTime.IsZero() {
				t.Errorf("signature %+v notation %+v", s, s.Notation)
			}
		})
	}
}

// Trust policies notation-go or gatehouse would not stand behind are
// refused when the policy loads, with a message saying why.
func TestNewNotationRefuses(t *testing.T) {
	ca := verifytest.NewNotationCA(t, "release-ca")
	leafPEM := leafPEM(t, ca)
	store := []verify.NotationStore{{Type: "ca", Name: "release", PEM: ca.PEM}}
	tests := []struct {
		name       string
		stores     []verify.NotationStore
		identities []string
		level      string
		crls       []verify.NotationCRL
		want       string
	}{
		{name: "any identity", stores: store, identities: []string{"*"}, want: `"*" is refused`},
		{name: "no identity", stores: store, want: "trustedIdentities: list"},
		{name: "level skip", stores: store, identities: []string{releaseIdentity}, level: "skip", want: `level "skip"`},
		{name: "level audit", stores: store, identities: []string{releaseIdentity}, level: "audit", want: `level "audit"`},
		{name: "unknown level", stores: store, identities: []string{releaseIdentity}, level: "lenient", want: `level "lenient"`},
		{name: "tsa store only", stores: []verify.NotationStore{{Type: "tsa", Name: "tsa", PEM: ca.PEM}}, identities: []string{releaseIdentity}, want: "at least one store of type ca or signingAuthority"},
		{name: "unknown store type", stores: []verify.NotationStore{{Type: "root", Name: "r", PEM: ca.PEM}}, identities: []string{releaseIdentity}, want: `type "root"`},
		{name: "not PEM", stores: []verify.NotationStore{{Type: "ca", Name: "r", PEM: "nope"}}, identities: []string{releaseIdentity}, want: "no PEM certificate"},
		{name: "leaf certificate in a ca store", stores: []verify.NotationStore{{Type: "ca", Name: "r", PEM: leafPEM}}, identities: []string{releaseIdentity}, want: "not a CA certificate"},
		{name: "identity without x509.subject prefix (notation-go's validation)", stores: store, identities: []string{"CN=release"}, want: "trust policy statement"},
		{name: "identity without CN, O or C (notation-go's validation)", stores: store, identities: []string{"x509.subject: OU=team"}, want: "trust policy statement"},
		{name: "store named twice", stores: append(store, store...), identities: []string{releaseIdentity}, want: "named twice"},
		{name: "CRL not a CRL", stores: store, identities: []string{releaseIdentity}, crls: []verify.NotationCRL{{Source: "notation.crls[0]", Data: []byte(ca.PEM)}}, want: `crls[0] (notation.crls[0]): PEM block "CERTIFICATE"`},
		{name: "CRL empty", stores: store, identities: []string{releaseIdentity}, crls: []verify.NotationCRL{{Source: "s", Data: nil}}, want: "no CRL found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.NewNotation(verify.NotationConfig{Stores: tc.stores, TrustedIdentities: tc.identities, Level: tc.level, CRLs: tc.crls})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func leafPEM(t *testing.T, ca *verifytest.NotationCA) string {
	t.Helper()
	s := ca.Signer(t, releaseSubject, time.Now().Add(time.Hour))
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Cert.Raw}))
}

// A signature refused because its certificate is revoked is reported in
// Result.Rejected under the authority that refused it, also from the cache;
// a new CRL makes a new authority, so the revoked verdict does not stick.
func TestVerifyNotationRevoked(t *testing.T) {
	host := verifytest.Registry(t)
	ca := verifytest.NewNotationCA(t, "release-ca")
	signer := ca.Signer(t, releaseSubject, time.Now().Add(time.Hour))
	repo := host + "/app/revoked"
	d := verifytest.PushImage(t, repo+":v1")
	verifytest.SignNotation(t, repo, d, signer, verifytest.NotationJWS)
	now := time.Now()
	authority := func(crl string) verify.Authority {
		n, err := verify.NewNotation(verify.NotationConfig{
			Stores:            []verify.NotationStore{{Type: "ca", Name: "release", PEM: ca.PEM}},
			TrustedIdentities: []string{releaseIdentity},
			CRLs:              []verify.NotationCRL{{Source: "test", Data: []byte(crl)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return verify.Authority{ID: "p/release", Notation: n}
	}
	revoking := authority(ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), verifytest.Revoked(signer.Cert, now.Add(-time.Minute), 1)))
	clean := authority(ca.CRL(t, now, now.Add(time.Hour)))
	if revoking.SignerID() == clean.SignerID() {
		t.Fatal("authorities with different CRLs share an ID")
	}
	v := newVerifier(t, verify.NewCache(100, time.Hour, time.Hour))
	for _, cached := range []bool{false, true} {
		r := v.Verify(context.Background(), verify.Request{Image: repo + "@" + d.String(), Authorities: []verify.Authority{revoking}})
		if r.Error != nil || r.SignedBy("p/release") || r.Cached != cached {
			t.Fatalf("error %v, signed %v, cached %v", r.Error, r.SignedBy("p/release"), r.Cached)
		}
		if len(r.Rejected) != 1 || r.Rejected[0].Authority != "p/release" || !strings.Contains(r.Rejected[0].Message, "was revoked at") {
			t.Fatalf("rejected %+v, want the revocation", r.Rejected)
		}
	}
	r := v.Verify(context.Background(), verify.Request{Image: repo + "@" + d.String(), Authorities: []verify.Authority{clean}})
	if r.Error != nil || !r.SignedBy("p/release") || len(r.Rejected) != 0 {
		t.Fatalf("with a CRL that does not list the signer: error %v, signed %v, rejected %+v", r.Error, r.SignedBy("p/release"), r.Rejected)
	}
}

// Documents attached as plain OCI referrers and signed, as artifacts, with
// Notation (oras attach, then notation sign, as Ratify reads them) count
// as attestations: a bare CycloneDX SBOM is the predicate, an in-toto
// statement is opened as an envelope's payload. The signature must be of
// the document's own manifest, by a trusted signer.
func TestVerifyNotationDocuments(t *testing.T) {
	host := verifytest.Registry(t)
	ca, otherCA := verifytest.NewNotationCA(t, "release-ca"), verifytest.NewNotationCA(t, "other-ca")
	release := ca.Signer(t, releaseSubject, time.Now().Add(24*time.Hour))
	sbom, err := os.ReadFile("attest/testdata/syft.cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	const slsa = "https://slsa.dev/provenance/v1"
	provenance := []byte(`{"buildDefinition":{"buildType":"https://example.com/build/v1"},"runDetails":{"builder":{"id":"https://github.com/org/builder"}}}`)
	type doc struct {
		content      []byte
		artifactType string
		signer       *verifytest.NotationSigner // nil: unsigned
	}
	tests := []struct {
		name          string
		docs          func(repo string, d v1.Hash) []doc
		signImage     bool // the image, not the document, is signed
		predicateType string
		want          string // the format verified, "" for none
		wantFound     int
	}{
		{name: "a signed CycloneDX SBOM", predicateType: attest.CycloneDX, want: verify.FormatNotationReferrer, wantFound: 1,
			docs: func(string, v1.Hash) []doc { return []doc{{sbom, attest.CycloneDXArtifactType, release}} }},
		{name: "an unsigned SBOM, the image signed", predicateType: attest.CycloneDX, signImage: true, wantFound: 1,
			docs: func(string, v1.Hash) []doc { return []doc{{sbom, attest.CycloneDXArtifactType, nil}} }},
		{name: "an SBOM signed by another CA", predicateType: attest.CycloneDX, wantFound: 1,
			docs: func(string, v1.Hash) []doc {
				return []doc{{sbom, attest.CycloneDXArtifactType, otherCA.Signer(t, releaseSubject, time.Now().Add(time.Hour))}}
			}},
		{name: "an SPDX document does not satisfy CycloneDX", predicateType: attest.CycloneDX,
			docs: func(string, v1.Hash) []doc {
				return []doc{{[]byte(`{"spdxVersion":"SPDX-2.3"}`), attest.SPDXArtifactType, release}}
			}},
		{name: "a signed in-toto statement", predicateType: slsa, want: verify.FormatNotationReferrer, wantFound: 1,
			docs: func(repo string, d v1.Hash) []doc {
				return []doc{{verifytest.InTotoStatement(repo, d, slsa, provenance), attest.InTotoArtifactType, release}}
			}},
		{name: "a signed statement about another image", predicateType: slsa, wantFound: 1,
			docs: func(repo string, _ v1.Hash) []doc {
				other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
				return []doc{{verifytest.InTotoStatement(repo, other, slsa, provenance), attest.InTotoArtifactType, release}}
			}},
	}
	v := newVerifier(t, nil)
	a := notationAuthority(t, "p/attestations/sbom/release", ca, "strict", releaseIdentity)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := fmt.Sprintf("%s/app/documents%d", host, i)
			d := verifytest.PushImage(t, repo+":v1")
			if tc.signImage {
				verifytest.SignNotation(t, repo, d, release, verifytest.NotationJWS)
			}
			for _, doc := range tc.docs(repo, d) {
				h := verifytest.AttachDocument(t, repo, d, doc.content, doc.artifactType)
				if doc.signer != nil {
					verifytest.SignNotation(t, repo, h, doc.signer, verifytest.NotationJWS)
				}
			}
			r := v.Verify(context.Background(), verify.Request{Image: repo + ":v1",
				Attestations: []verify.AttestationCheck{{ID: "p/attestations/sbom", PredicateType: tc.predicateType, Authorities: []verify.Authority{a}}}})
			if r.Error != nil || r.AttestationsFound[tc.predicateType] != tc.wantFound {
				t.Fatalf("error %v, found %v, want %d", r.Error, r.AttestationsFound, tc.wantFound)
			}
			if tc.want == "" {
				if len(r.Attestations) != 0 {
					t.Fatalf("verified %+v", r.Attestations)
				}
				return
			}
			if len(r.Attestations) != 1 {
				t.Fatalf("verified %d attestations, rejected %+v", len(r.Attestations), r.Rejected)
			}
			at := r.Attestations[0]
			if at.Format != tc.want || at.Notation == nil || at.Notation.Subject != "CN=release,O=example,ST=WA,C=US" {
				t.Fatalf("attestation %+v, notation %+v", at, at.Notation)
			}
			switch tc.predicateType {
			case attest.CycloneDX:
				if at.SBOM == nil || len(at.SBOM.Components) == 0 {
					t.Fatalf("SBOM %+v", at.SBOM)
				}
			case slsa:
				if at.Provenance == nil || at.Provenance.BuilderID != "https://github.com/org/builder" {
					t.Fatalf("provenance %+v", at.Provenance)
				}
			}
		})
	}
}

// Unsigned documents are never read, so they can neither crowd out a
// signed one nor fail the verification; a signed document too large to
// read is passed over with the reason in the result, never a registry
// failure.
func TestNotationDocumentsPassedOver(t *testing.T) {
	host := verifytest.Registry(t)
	ca := verifytest.NewNotationCA(t, "release-ca")
	release := ca.Signer(t, releaseSubject, time.Now().Add(24*time.Hour))
	small := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"left-pad","version":"1.3.0"}]}`)
	big := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[],"padding":"` + strings.Repeat("x", 4096) + `"}`)
	unsigned := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"unsigned","version":"0.0.1"}]}`)
	unsignedDigest, _, err := v1.SHA256(bytes.NewReader(unsigned))
	if err != nil {
		t.Fatal(err)
	}
	requests := &pathRecorder{}
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{Transport: requests}), MaxAttestationBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	a := notationAuthority(t, "p/attestations/sbom/release", ca, "strict", releaseIdentity)
	check := []verify.AttestationCheck{{ID: "p/attestations/sbom", PredicateType: attest.CycloneDX, Authorities: []verify.Authority{a}}}

	unsignedBig := host + "/app/unsigned-big"
	d := verifytest.PushImage(t, unsignedBig+":v1")
	verifytest.AttachDocument(t, unsignedBig, d, big, attest.CycloneDXArtifactType)
	verifytest.AttachDocument(t, unsignedBig, d, unsigned, attest.CycloneDXArtifactType)
	verifytest.SignNotation(t, unsignedBig, verifytest.AttachDocument(t, unsignedBig, d, small, attest.CycloneDXArtifactType), release, verifytest.NotationJWS)
	r := v.Verify(context.Background(), verify.Request{Image: unsignedBig + ":v1", Attestations: check})
	if r.Error != nil || len(r.Attestations) != 1 {
		t.Fatalf("beside unsigned documents, one oversized: error %v, attestations %+v, rejected %+v", r.Error, r.Attestations, r.Rejected)
	}
	if requests.saw(unsignedDigest.String()) {
		t.Fatal("an unsigned document was read")
	}

	signedBig := host + "/app/signed-big"
	d = verifytest.PushImage(t, signedBig+":v1")
	verifytest.SignNotation(t, signedBig, verifytest.AttachDocument(t, signedBig, d, big, attest.CycloneDXArtifactType), release, verifytest.NotationJWS)
	r = v.Verify(context.Background(), verify.Request{Image: signedBig + ":v1", Attestations: check})
	if r.Error != nil || len(r.Attestations) != 0 || len(r.Rejected) != 1 || !strings.Contains(r.Rejected[0].Message, "was passed over: the document could not be read") {
		t.Fatalf("a signed oversized document: error %v, attestations %+v, rejected %+v", r.Error, r.Attestations, r.Rejected)
	}
}

// pathRecorder is a transport that records the paths it is asked for.
type pathRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (p *pathRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (p *pathRecorder) saw(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.paths, func(path string) bool { return strings.Contains(path, s) })
}
