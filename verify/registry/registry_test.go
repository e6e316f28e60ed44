package registry

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const someDigest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

// hostile serves /v2/ and hands every other request to h.
func hostile(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func repo(t *testing.T, host string, kc authn.Keychain) *Repo {
	t.Helper()
	r, err := name.NewRepository(host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{MaxManifestBytes: 1024, MaxBlobBytes: 1024}).Repo(r, kc)
}

func TestHostileRegistryAnswers(t *testing.T) {
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + someDigest + `","size":2},"layers":[]}`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		ident   string
		want    Kind
	}{
		{name: "manifest over the cap, declared", ident: "v1", want: Invalid, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5000")
			w.Write([]byte(strings.Repeat("x", 5000)))
		}},
		{name: "manifest over the cap, streamed without length", ident: "v1", want: Invalid, handler: func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 10; i++ {
				w.Write([]byte(strings.Repeat("x", 512)))
				w.(http.Flusher).Flush()
			}
		}},
		{name: "bytes do not match the requested digest", ident: someDigest, want: Invalid, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Write([]byte(manifest))
		}},
		{name: "schema 1 manifest: digest would come from a header", ident: "v1", want: Invalid, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
			w.Header().Set("Docker-Content-Digest", someDigest)
			w.Write([]byte(`{"schemaVersion":1}`))
		}},
		{name: "rate limited", ident: "v1", want: RateLimited, handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
		}},
		{name: "server error", ident: "v1", want: Unavailable, handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}},
		{name: "not found", ident: "v1", want: NotFound, handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := repo(t, hostile(t, tc.handler), nil).Manifest(context.Background(), tc.ident)
			if KindOf(err) != tc.want {
				t.Fatalf("kind %q (%v), want %q", KindOf(err), err, tc.want)
			}
		})
	}
}

func TestSlowRegistryTimesOut(t *testing.T) {
	host := hostile(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("{"))
		w.(http.Flusher).Flush()
		select { // one byte, then nothing, until the client gives up
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := repo(t, host, nil).Manifest(ctx, "v1")
	if KindOf(err) != Timeout {
		t.Fatalf("kind %q (%v), want timeout", KindOf(err), err)
	}
}

func TestBlobDeclaredTooLargeIsNotFetched(t *testing.T) {
	var fetched atomic.Bool
	host := hostile(t, func(w http.ResponseWriter, r *http.Request) { fetched.Store(true) })
	h, _ := v1.NewHash(someDigest)
	_, err := repo(t, host, nil).Blob(context.Background(), v1.Descriptor{Digest: h, Size: 1 << 30})
	if KindOf(err) != Invalid || fetched.Load() {
		t.Fatalf("kind %q (%v), fetched %v", KindOf(err), err, fetched.Load())
	}
}

type staticKeychain struct{ registry string }

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.registry {
		return &authn.Basic{Username: "user", Password: "secret"}, nil
	}
	return authn.Anonymous, nil
}

// The registry sends the token request to a realm on another host. The
// pull secret must not go there.
func TestCredentialsNeverLeaveTheirRegistry(t *testing.T) {
	var leaked atomic.Bool
	realm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
		fmt.Fprint(w, `{"token":"t"}`)
	}))
	defer realm.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.URL+`/token",service="x"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	// Both servers listen on 127.0.0.1; name the registry "localhost" so the
	// realm is a different host, as it would be across the internet.
	host = strings.Replace(host, "127.0.0.1", "localhost", 1)
	_, err := repo(t, host, staticKeychain{registry: host}).Manifest(context.Background(), "v1")
	if err == nil || leaked.Load() {
		t.Fatalf("err %v, credentials leaked to the realm: %v", err, leaked.Load())
	}
}

func TestRedirectDoesNotCarryCredentials(t *testing.T) {
	var leaked atomic.Bool
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer cdn.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, strings.Replace(cdn.URL, "127.0.0.1", "localhost", 1)+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	_, _ = repo(t, host, staticKeychain{registry: host}).Manifest(context.Background(), "v1")
	if leaked.Load() {
		t.Fatal("credentials followed the redirect to another host")
	}
}

func TestSameSite(t *testing.T) {
	tests := []struct {
		registry, host string
		want           bool
	}{
		{"index.docker.io", "auth.docker.io", true},
		{"registry.example.com", "registry.example.com", true},
		{"registry.example.com", "auth.example.com", true},
		{"docker.io", "docker.io.evil.com", false},
		{"registry.example.com", "example.org", false},
		{"127.0.0.1", "127.0.0.2", false},
		{"localhost", "localhost", true},
		{"ghcr.io", "pkg-containers.githubusercontent.com", false},
	}
	for _, tc := range tests {
		t.Run(tc.registry+"->"+tc.host, func(t *testing.T) {
			if got := sameSite(tc.registry, tc.host); got != tc.want {
				t.Errorf("sameSite = %v, want %v", got, tc.want)
			}
		})
	}
}
