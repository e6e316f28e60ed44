package sigstorebundle_test

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"gatehouse.dev/gatehouse/verify/sigstorebundle"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

const (
	subject = "release@example.com"
	issuer  = "https://issuer.example.com"
)

func trustedRoot(t testing.TB, s *verifytest.Sigstore, o verifytest.RootOptions) root.TrustedMaterial {
	t.Helper()
	tr, err := root.NewTrustedRootFromJSON([]byte(s.TrustedRoot(t, o)))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func keyless(t testing.TB, tr root.TrustedMaterial, logs int) *sigstorebundle.Keyless {
	t.Helper()
	id, err := sgverify.NewShortCertificateIdentity(issuer, "", subject, "")
	if err != nil {
		t.Fatal(err)
	}
	k, err := sigstorebundle.NewKeyless(tr, []sgverify.CertificateIdentity{id}, logs)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Keyless.Check with the verifier options gatehouse chose: log entries in
// distinct logs, an observer timestamp, SCTs when the root has CT logs.
func TestKeylessCheck(t *testing.T) {
	sigstore, second, stranger := verifytest.NewSigstore(t), verifytest.NewSigstore(t), verifytest.NewSigstore(t)
	own := trustedRoot(t, sigstore, verifytest.RootOptions{})
	twoLogs := trustedRoot(t, sigstore, verifytest.RootOptions{MoreLogs: []*verifytest.Sigstore{second}})
	withCT := trustedRoot(t, sigstore, verifytest.RootOptions{CTLog: true})
	strangersLog := trustedRoot(t, sigstore, verifytest.RootOptions{MoreLogs: []*verifytest.Sigstore{stranger}})
	tests := []struct {
		name    string
		signer  *verifytest.Sigstore
		subject string
		opts    verifytest.KeylessOptions
		trusted root.TrustedMaterial
		logs    int
		want    error
		entries int
	}{
		{name: "cosign v3 keyless signature", trusted: own, logs: 1, entries: 1},
		{name: "log entry without timestamp authority", opts: verifytest.KeylessOptions{NoTimestamp: true}, trusted: own, logs: 1, entries: 1},
		{name: "another subject", subject: "mallory@example.com", trusted: own, logs: 1, want: sigstorebundle.ErrBundle},
		{name: "certificate of another sigstore", signer: stranger, trusted: own, logs: 1, want: sigstorebundle.ErrBundle},
		{name: "untrusted CA, trusted log", signer: stranger, trusted: strangersLog, logs: 1, want: sigstorebundle.ErrBundle},
		{name: "no log entry, one required", opts: verifytest.KeylessOptions{NoLogEntry: true}, trusted: own, logs: 1, want: sigstorebundle.ErrBundle},
		{name: "no log entry, timestamps only", opts: verifytest.KeylessOptions{NoLogEntry: true}, trusted: own, logs: 0},
		{name: "threshold 0 needs a signed timestamp", opts: verifytest.KeylessOptions{NoTimestamp: true}, trusted: own, logs: 0, want: sigstorebundle.ErrBundle},
		{name: "two entries in one log count once", opts: verifytest.KeylessOptions{SameLogAgain: true}, trusted: twoLogs, logs: 2, want: sigstorebundle.ErrBundle},
		{name: "entries in two logs", opts: verifytest.KeylessOptions{AlsoLogIn: []*verifytest.Sigstore{second}}, trusted: twoLogs, logs: 2, entries: 2},
		{name: "CT log in the root requires an SCT", trusted: withCT, logs: 1, want: sigstorebundle.ErrBundle},
		{name: "certificate as a one-element chain (cosign v3 --certificate)", opts: verifytest.KeylessOptions{AsChain: []*x509.Certificate{}}, trusted: own, logs: 1, entries: 1},
		{name: "a chain of another CA", signer: stranger, opts: verifytest.KeylessOptions{AsChain: stranger.Intermediates()}, trusted: own, logs: 1, want: sigstorebundle.ErrBundle},
		{name: "an attestation is not a signature", opts: verifytest.KeylessOptions{Predicate: "https://slsa.dev/provenance/v1"}, trusted: own, logs: 1, want: sigstorebundle.ErrNotASignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signer, subj := sigstore, subject
			if tc.signer != nil {
				signer = tc.signer
			}
			if tc.subject != "" {
				subj = tc.subject
			}
			raw, err := signer.KeylessBundle(digest, subj, issuer, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			v, err := keyless(t, tc.trusted, tc.logs).Check(raw, digest)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			if err != nil {
				t.Log(err)
				return
			}
			if v.Certificate.SubjectAlternativeName != subject || v.Certificate.Issuer != issuer || len(v.LogEntries) != tc.entries || len(v.Timestamps) == 0 {
				t.Errorf("verified %+v", v)
			}
		})
	}
}

// A bundle of another image, or signed with a key, does not verify
// keylessly.
func TestKeylessCheckRefusesOtherBundles(t *testing.T) {
	sigstore := verifytest.NewSigstore(t)
	k := keyless(t, trustedRoot(t, sigstore, verifytest.RootOptions{}), 1)
	otherImage, err := sigstore.KeylessBundle(other, subject, issuer, verifytest.KeylessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keyed, err := verifytest.Bundle(verifytest.NewKey(t), digest, verifytest.SignPredicateType)
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string][]byte{"another image": otherImage, "key signature": keyed, "not JSON": []byte("{")} {
		if _, err := k.Check(raw, digest); !errors.Is(err, sigstorebundle.ErrBundle) {
			t.Errorf("%s: Check = %v, want ErrBundle", name, err)
		}
	}
}

func TestNewKeylessRefusesUselessRoots(t *testing.T) {
	sigstore := verifytest.NewSigstore(t)
	own := trustedRoot(t, sigstore, verifytest.RootOptions{})
	empty, err := root.NewTrustedRootFromJSON([]byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := sgverify.NewShortCertificateIdentity(issuer, "", subject, "")
	tests := []struct {
		name    string
		trusted root.TrustedMaterial
		ids     []sgverify.CertificateIdentity
		logs    int
	}{
		{name: "no certificate authority", trusted: empty, ids: []sgverify.CertificateIdentity{id}, logs: 1},
		{name: "no identity", trusted: own, logs: 1},
		{name: "more logs than the root lists", trusted: own, ids: []sgverify.CertificateIdentity{id}, logs: 2},
		{name: "negative threshold", trusted: own, ids: []sgverify.CertificateIdentity{id}, logs: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := sigstorebundle.NewKeyless(tc.trusted, tc.ids, tc.logs); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// FuzzKeylessCheck: arbitrary bytes from a hostile registry never panic
// and never verify.
func FuzzKeylessCheck(f *testing.F) {
	sigstore := verifytest.NewSigstore(f)
	k := keyless(f, trustedRoot(f, sigstore, verifytest.RootOptions{}), 1)
	seed, err := sigstore.KeylessBundle(other, subject, issuer, verifytest.KeylessOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, err := k.Check(raw, digest); err == nil {
			t.Fatalf("accepted %q", raw)
		}
	})
}
