package certs

import (
	"bytes"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

func mustCA(t *testing.T, now time.Time, validity time.Duration) *CA {
	t.Helper()
	ca, err := NewCA(now, validity)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	ca := mustCA(t, t0, 100*time.Hour)
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA certificate cannot sign: IsCA %v basic %v usage %v", c.IsCA, c.BasicConstraintsValid, c.KeyUsage)
	}
	if !c.NotAfter.Equal(t0.Add(100*time.Hour)) || c.NotBefore.After(t0) {
		t.Errorf("validity %v..%v, want from at most %v to %v", c.NotBefore, c.NotAfter, t0, t0.Add(100*time.Hour))
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if other := mustCA(t, t0, time.Hour); other.Cert.SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Errorf("two CAs share serial %v", c.SerialNumber)
	}
}

func TestIssue(t *testing.T) {
	ca := mustCA(t, t0, 1000*time.Hour)
	roots := poolOf(ca.Cert)
	hosts := []string{"gatehouse.gatehouse-system.svc", "gatehouse.gatehouse-system.svc.cluster.local", "10.96.0.10", "::1"}
	cert, err := ca.Issue(hosts, t0, 30*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 2 || !bytes.Equal(cert.Certificate[1], ca.Cert.Raw) {
		t.Errorf("chain has %d certificates, want the leaf and the CA", len(cert.Certificate))
	}
	if !cert.Leaf.NotAfter.Equal(t0.Add(30 * time.Hour)) {
		t.Errorf("NotAfter %v, want %v", cert.Leaf.NotAfter, t0.Add(30*time.Hour))
	}
	tests := []struct {
		name    string
		host    string
		at      time.Time
		roots   *x509.CertPool
		wantErr bool
	}{
		{name: "first DNS name", host: hosts[0], at: t0, roots: roots},
		{name: "second DNS name", host: hosts[1], at: t0.Add(29 * time.Hour), roots: roots},
		{name: "IPv4", host: hosts[2], at: t0, roots: roots},
		{name: "IPv6", host: hosts[3], at: t0, roots: roots},
		{name: "other name", host: "evil.example.com", at: t0, roots: roots, wantErr: true},
		{name: "other IP", host: "10.96.0.11", at: t0, roots: roots, wantErr: true},
		{name: "expired", host: hosts[0], at: t0.Add(31 * time.Hour), roots: roots, wantErr: true},
		{name: "another CA", host: hosts[0], at: t0, roots: poolOf(mustCA(t, t0, time.Hour).Cert), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := x509.VerifyOptions{Roots: tt.roots, CurrentTime: tt.at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
			if ip := net.ParseIP(tt.host); ip == nil {
				opts.DNSName = tt.host
			}
			_, err := cert.Leaf.Verify(opts)
			if ip := net.ParseIP(tt.host); ip != nil && err == nil {
				err = cert.Leaf.VerifyHostname(tt.host)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("verify: %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestIssueNeverOutlivesCA(t *testing.T) {
	tests := []struct {
		name     string
		caLife   time.Duration
		issueAt  time.Duration // after t0
		validity time.Duration
		want     time.Duration // NotAfter, after t0
	}{
		{"short cert", 100 * time.Hour, 0, 10 * time.Hour, 10 * time.Hour},
		{"cert as long as the CA", 100 * time.Hour, 0, 100 * time.Hour, 100 * time.Hour},
		{"cert longer than the CA", 100 * time.Hour, 0, 1000 * time.Hour, 100 * time.Hour},
		{"issued late in the CA's life", 100 * time.Hour, 95 * time.Hour, 10 * time.Hour, 100 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := mustCA(t, t0, tt.caLife)
			c, err := ca.Issue([]string{"gatehouse.test"}, t0.Add(tt.issueAt), tt.validity)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Leaf.NotAfter; !got.Equal(t0.Add(tt.want)) || got.After(ca.Cert.NotAfter) {
				t.Errorf("NotAfter %v, want %v (CA ends %v)", got, t0.Add(tt.want), ca.Cert.NotAfter)
			}
		})
	}
}

func TestIssueWithoutHosts(t *testing.T) {
	if _, err := mustCA(t, t0, time.Hour).Issue(nil, t0, time.Hour); err == nil {
		t.Error("Issue without hosts succeeded")
	}
}

func TestEncodeDecodeCA(t *testing.T) {
	old := mustCA(t, t0, 100*time.Hour)
	rotated, err := old.Rotate(t0.Add(50*time.Hour), 100*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := rotated.Rotate(t0.Add(90*time.Hour), 100*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		ca           *CA
		at           time.Time
		wantPrevious []*x509.Certificate
	}{
		{"fresh CA", old, t0, nil},
		{"rotated once", rotated, t0.Add(50 * time.Hour), []*x509.Certificate{old.Cert}},
		{"rotated twice", twice, t0.Add(90 * time.Hour), []*x509.Certificate{rotated.Cert, old.Cert}},
		{"expired previous dropped", twice, t0.Add(101 * time.Hour), []*x509.Certificate{rotated.Cert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM, err := tt.ca.Encode(tt.at)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeCA(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Cert.Equal(tt.ca.Cert) || !got.Key.Equal(tt.ca.Key) {
				t.Error("current CA or key changed in the round trip")
			}
			if len(got.Previous) != len(tt.wantPrevious) {
				t.Fatalf("%d previous, want %d", len(got.Previous), len(tt.wantPrevious))
			}
			for i := range got.Previous {
				if !got.Previous[i].Equal(tt.wantPrevious[i]) {
					t.Errorf("previous %d differs", i)
				}
			}
			if string(certPEM) != string(tt.ca.Bundle(tt.at)) {
				t.Error("encoded certificates differ from the bundle")
			}
		})
	}
}

func TestDecodeCARefuses(t *testing.T) {
	a, b := mustCA(t, t0, time.Hour), mustCA(t, t0, time.Hour)
	aCert, aKey, err := a.Encode(t0)
	if err != nil {
		t.Fatal(err)
	}
	_, bKey, err := b.Encode(t0)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := a.Rotate(t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rotatedCert, _, err := rotated.Encode(t0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		certPEM []byte
		keyPEM  []byte
		want    string
	}{
		{"key of another CA", aCert, bKey, "does not match"},
		{"old key after rotation", rotatedCert, aKey, "does not match"},
		{"no certificate", nil, aKey, "want PEM certificate"},
		{"no key", aCert, nil, "want PEM certificate"},
		{"garbage certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), aKey, "CA certificate"},
		{"garbage key", aCert, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), "CA key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, err := DecodeCA(tt.certPEM, tt.keyPEM)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeCA = %v, %v; want an error containing %q", ca, err, tt.want)
			}
		})
	}
}

func TestDueForRenewal(t *testing.T) {
	nb, na := t0, t0.Add(300*time.Hour) // a third is 100h
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"at the start", nb, false},
		{"before two thirds", nb.Add(199 * time.Hour), false},
		{"exactly two thirds", nb.Add(200 * time.Hour), false},
		{"past two thirds", nb.Add(201 * time.Hour), true},
		{"expired", na.Add(time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dueForRenewal(nb, na, tt.now); got != tt.want {
				t.Errorf("dueForRenewal at %v = %v, want %v", tt.now.Sub(nb), got, tt.want)
			}
		})
	}
}
