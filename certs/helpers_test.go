package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// t0 is the start of every fake clock: far from the real time, so nothing
// passes by accident of the wall clock.
var t0 = time.Date(2031, 3, 1, 12, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// recordingBundle is a BundleWriter that keeps every bundle written.
type recordingBundle struct {
	mu      sync.Mutex
	bundles [][]byte
	err     error
}

func (r *recordingBundle) WriteBundle(_ context.Context, b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.bundles = append(r.bundles, bytes.Clone(b))
	return nil
}

func (r *recordingBundle) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bundles)
}

func (r *recordingBundle) last(t *testing.T) []byte {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bundles) == 0 {
		t.Fatal("no bundle written")
	}
	return r.bundles[len(r.bundles)-1]
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// parsePEMCerts returns every certificate in a PEM bundle.
func parsePEMCerts(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			t.Fatalf("bundle holds a %q block", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func bundlePool(t *testing.T, bundle []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(bundle) {
		t.Fatal("bundle holds no certificate")
	}
	return p
}

// verifyLeaf checks c chains to roots for a server named host at now.
func verifyLeaf(c *tls.Certificate, roots *x509.CertPool, host string, now time.Time) error {
	if c == nil || c.Leaf == nil {
		return errors.New("no leaf")
	}
	_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func current(t *testing.T, s Source) *tls.Certificate {
	t.Helper()
	c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: "gatehouse.test"})
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	return c
}
