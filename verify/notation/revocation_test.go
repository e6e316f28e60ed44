package notation_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/notaryproject/notation-go/verifier/truststore"

	"gatehouse.dev/gatehouse/verify/notation"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

func crls(t *testing.T, pems ...string) []*x509.RevocationList {
	t.Helper()
	l, err := notation.ParseCRLs([]byte(strings.Join(pems, "")))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// With CRLs, a signature is refused when a certificate of its chain is
// listed by its issuer's newest CRL, and when that CRL cannot be trusted to
// be current; nothing is fetched.
func TestCheckRevocation(t *testing.T) {
	now := time.Now()
	root := verifytest.NewNotationCA(t, "release-ca")
	inter := root.Intermediate(t, "release-intermediate")
	impostor := verifytest.NewNotationCA(t, "release-ca") // same name, another key
	signer := root.Signer(t, release, now.Add(time.Hour))
	held := root.Signer(t, release, now.Add(time.Hour))
	interSigner := inter.Signer(t, release, now.Add(time.Hour))
	fresh := func(ca *verifytest.NotationCA, entries ...x509.RevocationListEntry) string {
		return ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), entries...)
	}
	revokedSigner := verifytest.Revoked(signer.Cert, now.Add(-time.Minute), 1)
	tests := []struct {
		name    string
		level   string
		crls    []string
		signer  *verifytest.NotationSigner
		wantErr string // "" admits; a revocation error contains it
	}{
		{name: "no CRLs: not checked", signer: signer},
		{name: "listed", crls: []string{fresh(root, revokedSigner)}, signer: signer,
			wantErr: `certificate "CN=release,O=example,ST=WA,C=US" (serial ` + signer.Cert.SerialNumber.Text(16) + `) was revoked at`},
		{name: "listed, reason named", crls: []string{fresh(root, revokedSigner)}, signer: signer, wantErr: "(keyCompromise), per the CRL of \"CN=release-ca,O=example,C=US\""},
		{name: "listed, permissive", level: notation.LevelPermissive, crls: []string{fresh(root, revokedSigner)}, signer: signer, wantErr: "was revoked at"},
		{name: "not listed", crls: []string{fresh(root, verifytest.Revoked(held.Cert, now, 0))}, signer: signer},
		{name: "stale", crls: []string{root.CRL(t, now.Add(-2*time.Hour), now.Add(-time.Hour))}, signer: signer, wantErr: "is stale: its nextUpdate"},
		{name: "forged by another key", crls: []string{fresh(impostor)}, signer: signer, wantErr: "not signed by its certificate"},
		{name: "forged one cannot shadow the real one", crls: []string{fresh(impostor), fresh(root, revokedSigner)}, signer: signer, wantErr: "was revoked at"},
		{name: "forged one beside a real clean one", crls: []string{fresh(impostor, revokedSigner), fresh(root)}, signer: signer},
		{name: "newest CRL wins: revoked since", crls: []string{root.CRL(t, now.Add(-time.Hour), now.Add(time.Hour)), fresh(root, revokedSigner)}, signer: signer, wantErr: "was revoked at"},
		{name: "newest CRL wins: released from hold", crls: []string{root.CRL(t, now.Add(-time.Hour), now.Add(time.Hour), verifytest.Revoked(held.Cert, now.Add(-time.Hour), 6)), fresh(root)}, signer: held},
		{name: "on hold", crls: []string{fresh(root, verifytest.Revoked(held.Cert, now.Add(-time.Minute), 6))}, signer: held, wantErr: "(certificateHold)"},
		{name: "hold removed", crls: []string{fresh(root, verifytest.Revoked(held.Cert, now.Add(-time.Hour), 6), verifytest.Revoked(held.Cert, now.Add(-time.Minute), 8))}, signer: held},
		{name: "intermediate revoked by the root", crls: []string{fresh(root, verifytest.Revoked(inter.Cert, now.Add(-time.Minute), 2))}, signer: interSigner,
			wantErr: `certificate "CN=release-intermediate,O=example,C=US"`},
		{name: "leaf revoked by the intermediate", crls: []string{fresh(root), fresh(inter, verifytest.Revoked(interSigner.Cert, now.Add(-time.Minute), 0))}, signer: interSigner, wantErr: "per the CRL of \"CN=release-intermediate"},
		{name: "intermediate's CRL stale", crls: []string{fresh(root), inter.CRL(t, now.Add(-2*time.Hour), now.Add(-time.Hour))}, signer: interSigner, wantErr: "is stale"},
		{name: "only another issuer's CRL", crls: []string{fresh(inter)}, signer: signer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := notation.Config{
				Stores:            []notation.Store{{Type: truststore.TypeCA, Name: "release", Certificates: []*x509.Certificate{root.Cert}}},
				TrustedIdentities: []string{identity},
				Level:             tc.level,
			}
			if len(tc.crls) > 0 {
				c.CRLs = crls(t, tc.crls...)
			}
			v, err := notation.New(c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Check(context.Background(), sign(t, tc.signer, image, notation.MediaTypeJWS), image, ref)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var rerr *notation.RevocationError
			if !errors.As(err, &rerr) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v (%T), want a RevocationError containing %q", err, err, tc.wantErr)
			}
		})
	}
}

// The clock that judges CRLs stale can be set: a CRL fresh now is stale
// once its nextUpdate has passed.
func TestCheckRevocationClock(t *testing.T) {
	now := time.Now()
	root := verifytest.NewNotationCA(t, "release-ca")
	signer := root.Signer(t, release, now.Add(time.Hour))
	later := now.Add(31 * time.Minute)
	v, err := notation.New(notation.Config{
		Stores:            []notation.Store{{Type: truststore.TypeCA, Name: "release", Certificates: []*x509.Certificate{root.Cert}}},
		TrustedIdentities: []string{identity},
		CRLs:              crls(t, root.CRL(t, now.Add(-time.Minute), now.Add(30*time.Minute))),
		Now:               func() time.Time { return later },
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Check(context.Background(), sign(t, signer, image, notation.MediaTypeCOSE), image, ref)
	if err == nil || !strings.Contains(err.Error(), "is stale") {
		t.Fatalf("error %v, want a stale CRL", err)
	}
}

func TestParseCRLs(t *testing.T) {
	now := time.Now()
	ca := verifytest.NewNotationCA(t, "release-ca")
	crl := ca.CRL(t, now, now.Add(time.Hour))
	block, _ := pem.Decode([]byte(crl))
	noNext := withoutNextUpdate(t, block.Bytes)
	tests := []struct {
		name    string
		data    string
		want    int
		wantErr string
	}{
		{name: "one PEM", data: crl, want: 1},
		{name: "two PEM", data: crl + ca.CRL(t, now.Add(time.Minute), now.Add(time.Hour)), want: 2},
		{name: "DER", data: string(block.Bytes), want: 1},
		{name: "empty", data: "  \n", wantErr: "no CRL found"},
		{name: "certificate", data: ca.PEM, wantErr: `PEM block "CERTIFICATE"`},
		{name: "garbage DER", data: "not a CRL", wantErr: "CRL 1:"},
		{name: "no nextUpdate", data: noNext, wantErr: "has no nextUpdate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := notation.ParseCRLs([]byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("got %d CRLs, error %v; want %d", len(got), err, tc.want)
			}
		})
	}
}

// withoutNextUpdate drops the nextUpdate field from a DER CRL (the
// signature no longer matches, which parsing does not check).
func withoutNextUpdate(t *testing.T, der []byte) string {
	t.Helper()
	var outer []asn1.RawValue
	var crl asn1.RawValue
	if _, err := asn1.Unmarshal(der, &crl); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(crl.FullBytes, &outer); err != nil {
		t.Fatal(err)
	}
	var tbs []asn1.RawValue
	if _, err := asn1.Unmarshal(outer[0].FullBytes, &tbs); err != nil {
		t.Fatal(err)
	}
	// version, signature, issuer, thisUpdate, nextUpdate, ...
	tbs = append(tbs[:4], tbs[5:]...)
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		t.Fatal(err)
	}
	outer[0] = asn1.RawValue{FullBytes: tbsDER}
	out, err := asn1.Marshal(outer)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: out}))
}

func FuzzParseCRLs(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		crls, err := notation.ParseCRLs(data)
		if err == nil && len(crls) == 0 {
			t.Fatal("no error and no CRL")
		}
		for _, c := range crls {
			if c.NextUpdate.IsZero() {
				t.Fatal("accepted a CRL without nextUpdate")
			}
		}
	})
}

// Certificates that name a CRL distribution point and an OCSP responder
// are checked against the CRLs given, and nothing is ever requested from
// either, with CRLs or without.
func TestRevocationNeverFetches(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	now := time.Now()
	root := verifytest.NewNotationCA(t, "release-ca")
	named := func(c *x509.Certificate) {
		c.CRLDistributionPoints = []string{srv.URL + "/ca.crl"}
		c.OCSPServer = []string{srv.URL + "/ocsp"}
	}
	good, revoked := root.Signer(t, release, now.Add(time.Hour), named), root.Signer(t, release, now.Add(time.Hour), named)
	for _, withCRLs := range []bool{false, true} {
		c := notation.Config{
			Stores:            []notation.Store{{Type: truststore.TypeCA, Name: "release", Certificates: []*x509.Certificate{root.Cert}}},
			TrustedIdentities: []string{identity},
		}
		if withCRLs {
			c.CRLs = crls(t, root.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), verifytest.Revoked(revoked.Cert, now.Add(-time.Minute), 1)))
		}
		v, err := notation.New(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Check(context.Background(), sign(t, good, image, notation.MediaTypeJWS), image, ref); err != nil {
			t.Errorf("CRLs %v: a good certificate refused: %v", withCRLs, err)
		}
		_, err = v.Check(context.Background(), sign(t, revoked, image, notation.MediaTypeJWS), image, ref)
		if withCRLs != (err != nil) {
			t.Errorf("CRLs %v: the revoked certificate: %v", withCRLs, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests to the distribution point or OCSP responder, want none", n)
	}
}

// CRLs that might not list every revocation of their issuer are refused
// when loaded: a newest delta or partitioned CRL could hide what the full
// CRL revokes.
func TestParseCRLsRefusesPartialLists(t *testing.T) {
	now := time.Now()
	ca := verifytest.NewNotationCA(t, "release-ca")
	ext := func(id asn1.ObjectIdentifier, critical bool, value []byte) pkix.Extension {
		return pkix.Extension{Id: id, Critical: critical, Value: value}
	}
	mustDER := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type idp struct {
		DistributionPoint asn1.RawValue `asn1:"optional,tag:0"`
		OnlyUser          bool          `asn1:"optional,tag:1"`
	}
	dp := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustDER(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustDER(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte("http://ca.example.com/ca.crl")})})}
	tests := []struct {
		name string
		ext  pkix.Extension
		want string // "" loads
	}{
		{name: "distribution point named only", ext: ext(asn1.ObjectIdentifier{2, 5, 29, 28}, true, mustDER(idp{DistributionPoint: dp}))},
		{name: "delta CRL", ext: ext(asn1.ObjectIdentifier{2, 5, 29, 27}, true, mustDER(3)), want: "a delta CRL"},
		{name: "user certificates only", ext: ext(asn1.ObjectIdentifier{2, 5, 29, 28}, true, mustDER(idp{DistributionPoint: dp, OnlyUser: true})), want: "a partitioned CRL"},
		{name: "unknown critical extension", ext: ext(asn1.ObjectIdentifier{1, 2, 3, 4}, true, []byte{5, 0}), want: "unknown critical extension 1.2.3.4"},
		{name: "unknown extension, not critical", ext: ext(asn1.ObjectIdentifier{1, 2, 3, 4}, false, []byte{5, 0})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			crl := ca.CRLWith(t, now, now.Add(time.Hour), []pkix.Extension{tc.ext})
			_, err := notation.ParseCRLs([]byte(crl))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
