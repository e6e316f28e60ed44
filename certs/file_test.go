package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pairPEM issues a certificate and returns the PEM of its chain and key.
func pairPEM(t *testing.T, ca *CA) (certPEM, keyPEM []byte, serial *big.Int) {
	t.Helper()
	c, err := ca.Issue([]string{"gatehouse.test"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), c.Leaf.SerialNumber
}

// writeAtomic replaces path the way a kubelet-mounted Secret or
// cert-manager does: write aside, then rename.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type pairFiles struct{ cert, key string }

func writePair(t *testing.T, dir string, certPEM, keyPEM []byte) pairFiles {
	t.Helper()
	f := pairFiles{filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")}
	writeAtomic(t, f.cert, certPEM)
	writeAtomic(t, f.key, keyPEM)
	return f
}

// logSink is a concurrency-safe slog destination tests can search.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

func TestNewFileSource(t *testing.T) {
	ca := mustCA(t, time.Now(), 2*time.Hour)
	certPEM, keyPEM, serial := pairPEM(t, ca)
	_, otherKey, _ := pairPEM(t, ca)
	tests := []struct {
		name    string
		cert    []byte
		key     []byte
		missing bool
		wantErr string
	}{
		{name: "good pair", cert: certPEM, key: keyPEM},
		{name: "key of another certificate", cert: certPEM, key: otherKey, wantErr: "private key does not match"},
		{name: "garbage certificate", cert: []byte("not PEM"), key: keyPEM, wantErr: "tls.crt"},
		{name: "empty key", cert: certPEM, key: nil, wantErr: "tls.key"},
		{name: "missing files", missing: true, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := pairFiles{filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")}
			if !tt.missing {
				files = writePair(t, dir, tt.cert, tt.key)
			}
			f, err := NewFileSource(files.cert, files.key, discardLog())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewFileSource = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Ready(); err != nil {
				t.Errorf("Ready: %v", err)
			}
			c := current(t, f)
			if c.Leaf == nil || c.Leaf.SerialNumber.Cmp(serial) != 0 {
				t.Errorf("serving %v, want serial %v", c.Leaf, serial)
			}
			if !f.NotAfter().Equal(c.Leaf.NotAfter) {
				t.Errorf("NotAfter %v, want %v", f.NotAfter(), c.Leaf.NotAfter)
			}
			if err := verifyLeaf(c, poolOf(ca.Cert), "gatehouse.test", time.Now()); err != nil {
				t.Errorf("loaded certificate does not verify: %v", err)
			}
		})
	}
}

func TestFileSourceReload(t *testing.T) {
	ca := mustCA(t, time.Now(), 2*time.Hour)
	dir := t.TempDir()
	certPEM, keyPEM, first := pairPEM(t, ca)
	files := writePair(t, dir, certPEM, keyPEM)
	logs := &logSink{}
	f, err := NewFileSource(files.cert, files.key, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx, 2*time.Millisecond); close(done) }()
	defer func() {
		cancel()
		<-done
	}()

	serialNow := func() *big.Int { return current(t, f).Leaf.SerialNumber }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	// A renewed pair is picked up.
	certPEM2, keyPEM2, second := pairPEM(t, ca)
	writePair(t, dir, certPEM2, keyPEM2)
	waitFor("the renewed certificate", func() bool { return serialNow().Cmp(second) == 0 })
	waitFor("the reload to be logged", func() bool { return logs.contains("serving certificate reloaded") })
	if first.Cmp(second) == 0 {
		t.Fatal("the two pairs share a serial")
	}

	// A corrupt rewrite is refused and the renewed pair keeps serving.
	writeAtomic(t, files.cert, []byte("-----BEGIN CERTIFICATE-----\ntruncated"))
	waitFor("the refusal to be logged", func() bool { return logs.contains("keeping the previous one") })
	if got := serialNow(); got.Cmp(second) != 0 {
		t.Errorf("after a corrupt rewrite serving serial %v, want %v", got, second)
	}
	if err := f.Ready(); err != nil {
		t.Errorf("not ready after a corrupt rewrite: %v", err)
	}

	// Repairing the files recovers, even with content seen before.
	writePair(t, dir, certPEM, keyPEM)
	waitFor("the repaired certificate", func() bool { return serialNow().Cmp(first) == 0 })
}

func TestHolderSetsLeaf(t *testing.T) {
	ca := mustCA(t, time.Now(), time.Hour)
	c, err := ca.Issue([]string{"gatehouse.test"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cert *tls.Certificate
	}{
		{"leaf given", c},
		{"leaf parsed from the chain", &tls.Certificate{Certificate: c.Certificate, PrivateKey: c.PrivateKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h holder
			if err := h.set(tt.cert); err != nil {
				t.Fatal(err)
			}
			if !h.NotAfter().Equal(c.Leaf.NotAfter) {
				t.Errorf("NotAfter %v, want %v", h.NotAfter(), c.Leaf.NotAfter)
			}
		})
	}
}
