package registry

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// recorder is a base transport that answers 200 and remembers what it sent.
type recorder struct{ sent []*http.Request }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.sent = append(r.sent, req)
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), ContentLength: 2, Request: req}, nil
}

func TestGuardCredentials(t *testing.T) {
	tests := []struct {
		name     string
		registry string
		insecure bool
		url      string
		auth     bool
		wantSent bool
	}{
		{name: "credentials to the registry", registry: "registry.example.com", url: "https://registry.example.com/v2/app/manifests/v1", auth: true, wantSent: true},
		{name: "credentials to its auth host", registry: "index.docker.io", url: "https://auth.docker.io/token", auth: true, wantSent: true},
		{name: "credentials to a foreign realm", registry: "registry.example.com", url: "https://evil.example.org/token", auth: true},
		{name: "credentials to a look-alike host", registry: "docker.io", url: "https://docker.io.evil.com/token", auth: true},
		{name: "credentials downgraded to http", registry: "registry.example.com", url: "http://registry.example.com/v2/", auth: true},
		{name: "credentials over http to an insecure registry", registry: "10.0.0.1:5000", insecure: true, url: "http://10.0.0.1:5000/v2/", auth: true, wantSent: true},
		{name: "anonymous request anywhere", registry: "registry.example.com", url: "https://cdn.example.net/blob", wantSent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := &recorder{}
			g := &guard{base: base, registry: tc.registry, insecure: tc.insecure, maxBody: 1 << 20}
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			if tc.auth {
				req.Header.Set("Authorization", "Basic dXNlcjpzZWNyZXQ=")
			}
			_, err := g.RoundTrip(req)
			if sent := len(base.sent) == 1; sent != tc.wantSent {
				t.Fatalf("sent = %v, want %v (err %v)", sent, tc.wantSent, err)
			}
			if !tc.wantSent && !errors.Is(err, errCredentialsElsewhere) {
				t.Fatalf("err = %v, want errCredentialsElsewhere", err)
			}
		})
	}
}

func TestPlainHTTPAllowed(t *testing.T) {
	c := New(Options{Insecure: []string{"10.0.0.9:5000"}})
	for reg, want := range map[string]bool{
		"127.0.0.1:5000":       true,
		"localhost:5000":       true,
		"[::1]:5000":           true,
		"10.0.0.9:5000":        true,  // configured insecure
		"10.0.0.8:5000":        false, // private, not configured: go-containerregistry would try http
		"192.168.1.2":          false,
		"registry.example.com": false,
	} {
		if got := c.plainHTTPAllowed(reg); got != want {
			t.Errorf("%s: %v, want %v", reg, got, want)
		}
	}
}
