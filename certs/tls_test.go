package certs

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestTLSRotation serves HTTPS with a SelfManaged source and connects as the
// API server does: trusting only the published caBundle.
func TestTLSRotation(t *testing.T) {
	ctx := context.Background()
	clock, bundles := newClock(), &recordingBundle{}
	s := newSelfManaged(t, &MemoryStore{}, clock, bundles)
	mustDo(t, s.Refresh(ctx))

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{GetCertificate: s.GetCertificate, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()

	// connect makes a new connection to srv trusting only bundle and
	// returns the serial of the certificate served.
	connect := func(srv *httptest.Server, bundle []byte) (*big.Int, error) {
		tr := &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{
				RootCAs: bundlePool(t, bundle),
				// Sent as SNI: GetCertificate answers (httptest's own
				// certificate would answer a client without SNI).
				ServerName: "gatehouse.test",
				Time:       clock.Now,
			},
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(srv.URL)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if body, _ := io.ReadAll(resp.Body); string(body) != "ok" {
			t.Errorf("body %q", body)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber, nil
	}

	oldBundle := bundles.last(t)
	first := current(t, s).Leaf.SerialNumber
	got, err := connect(srv, oldBundle)
	if err != nil {
		t.Fatalf("connecting with the first bundle: %v", err)
	}
	if got.Cmp(first) != 0 {
		t.Fatalf("served serial %v, want the source's %v", got, first)
	}

	// Just before the CA is due, the certificate is renewed by the old CA.
	clock.Set(t0.Add(199 * time.Hour))
	mustDo(t, s.Refresh(ctx))
	oldCert := current(t, s)
	if got, err := connect(srv, oldBundle); err != nil || got.Cmp(oldCert.Leaf.SerialNumber) != 0 {
		t.Fatalf("after renewal by the same CA: serial %v, error %v; want %v", got, err, oldCert.Leaf.SerialNumber)
	}

	// Force a CA rotation. The old CA's certificate is not due yet and
	// keeps serving; the new bundle trusts it.
	clock.Set(t0.Add(201 * time.Hour))
	mustDo(t, s.Refresh(ctx))
	newBundle := bundles.last(t)
	if got := current(t, s).Leaf.SerialNumber; got.Cmp(oldCert.Leaf.SerialNumber) != 0 {
		t.Fatal("the certificate was replaced before it was due")
	}
	if got, err := connect(srv, newBundle); err != nil || got.Cmp(oldCert.Leaf.SerialNumber) != 0 {
		t.Fatalf("new bundle, old certificate: serial %v, error %v", got, err)
	}
	// When it is due, the new CA issues its successor.
	clock.Set(t0.Add(221 * time.Hour))
	mustDo(t, s.Refresh(ctx))
	second := current(t, s).Leaf.SerialNumber
	if second.Cmp(oldCert.Leaf.SerialNumber) == 0 {
		t.Fatal("no new certificate when the old one was due")
	}

	// A replica that has not refreshed yet still serves the old certificate.
	lagging := httptest.NewUnstartedServer(srv.Config.Handler)
	lagging.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return oldCert, nil }}
	lagging.Config.ErrorLog = log.New(io.Discard, "", 0)
	lagging.StartTLS()
	defer lagging.Close()

	tests := []struct {
		name       string
		srv        *httptest.Server
		bundle     []byte
		wantSerial *big.Int
		wantErr    string
	}{
		{name: "new bundle sees the new certificate", srv: srv, bundle: newBundle, wantSerial: second},
		{name: "new bundle still trusts a lagging replica's old certificate", srv: lagging, bundle: newBundle, wantSerial: oldCert.Leaf.SerialNumber},
		{name: "bundle from before the rotation does not trust the new certificate", srv: srv, bundle: oldBundle, wantErr: "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := connect(tt.srv, tt.bundle)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("connect = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Cmp(tt.wantSerial) != 0 {
				t.Errorf("served serial %v, want %v", got, tt.wantSerial)
			}
		})
	}

}
