package verify_test

import (
	"context"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// A trusted root built from PEM certificates and keys verifies what the
// same instance's trusted_root.json verifies, and refuses what it refuses.
func TestPEMRoot(t *testing.T) {
	host := verifytest.Registry(t)
	sigstore, stranger := verifytest.NewSigstore(t), verifytest.NewSigstore(t)
	ca, tsa, tlog := sigstore.PEMs(t)
	strangerCA, _, strangerLog := stranger.PEMs(t)
	image := host + "/app/pem"
	d := verifytest.PushImage(t, image+":v1")
	verifytest.SignBundleKeyless(t, image, d, sigstore, ciSubject, ciIssuer, verifytest.KeylessOptions{})
	id := verify.Identity{Issuer: ciIssuer, Subject: ciSubject}
	tests := []struct {
		name       string
		root       verify.PEMRoot
		logs       int
		wantSigned bool
	}{
		{name: "CA and log", root: verify.PEMRoot{CertificateAuthorities: []string{ca}, TransparencyLogs: []string{tlog}}, logs: 1, wantSigned: true},
		{name: "CA and timestamp authority, no log", root: verify.PEMRoot{CertificateAuthorities: []string{ca}, TimestampAuthorities: []string{tsa}}, logs: 0, wantSigned: true},
		{name: "everything", root: verify.PEMRoot{CertificateAuthorities: []string{strangerCA, ca}, TimestampAuthorities: []string{tsa}, TransparencyLogs: []string{strangerLog, tlog}}, logs: 1, wantSigned: true},
		{name: "another CA", root: verify.PEMRoot{CertificateAuthorities: []string{strangerCA}, TransparencyLogs: []string{tlog}}, logs: 1},
		{name: "another log", root: verify.PEMRoot{CertificateAuthorities: []string{ca}, TransparencyLogs: []string{strangerLog}}, logs: 1},
	}
	v := newVerifier(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js, err := tc.root.TrustedRootJSON()
			if err != nil {
				t.Fatal(err)
			}
			a := keylessAuthority(t, "p/pem", string(js), tc.logs, id)
			r := v.Verify(context.Background(), verify.Request{Image: image + ":v1", Authorities: []verify.Authority{a}})
			if r.Error != nil || r.SignedBy(a.ID) != tc.wantSigned {
				t.Fatalf("error %v signed %v, want signed %v", r.Error, r.SignedBy(a.ID), tc.wantSigned)
			}
		})
	}
}

func TestPEMRootErrors(t *testing.T) {
	ca, _, tlog := verifytest.NewSigstore(t).PEMs(t)
	tests := []struct {
		name string
		root verify.PEMRoot
		want []string
	}{
		{name: "no CA", root: verify.PEMRoot{TransparencyLogs: []string{tlog}}, want: []string{"certificateAuthorities: list at least one"}},
		{name: "key in place of a CA", root: verify.PEMRoot{CertificateAuthorities: []string{ca, tlog}}, want: []string{"certificateAuthorities[1]: not PEM certificates"}},
		{name: "not PEM", root: verify.PEMRoot{CertificateAuthorities: []string{"x"}, TimestampAuthorities: []string{"y"}, TransparencyLogs: []string{"z"}, CTLogs: []string{ca}},
			want: []string{"certificateAuthorities[0]", "timestampAuthorities[0]", "transparencyLogs[0]: not a PEM public key", "ctLogs[0]: not a PEM public key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.root.TrustedRootJSON()
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err %v, want it to say %q", err, w)
				}
			}
		})
	}
}
