package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

func TestLooksLikeCredential(t *testing.T) {
	tests := []struct {
		name, value string
		want        bool
	}{
		{"DB_PASSWORD", "hunter2", true},
		{"GITHUB_TOKEN", "x", true},
		{"API_KEY", "x", true},
		{"UPSTREAM", "AKIAIOSFODNN7EXAMPLE", true},
		{"TLS_KEY", "-----BEGIN EC PRIVATE KEY-----\nMHc...", true},
		{"DB_PASSWORD_FILE", "/run/secrets/db", false},
		{"DB_PASSWORD", "", false},
		{"PATH", "/usr/bin", false},
		{"LOG_LEVEL", "debug", false},
	}
	for _, tc := range tests {
		if got := verify.LooksLikeCredential(tc.name, tc.value); got != tc.want {
			t.Errorf("%s=%q: %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}
}

// The configuration reaches the result with variable names only: values
// are never kept, so they cannot reach the audit log or Rego.
func TestVerifyImageConfig(t *testing.T) {
	host := verifytest.Registry(t)
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{User: "65532", Env: []string{"PATH=/usr/bin", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "DB_PASSWORD_FILE=/run/db"}, Labels: map[string]string{"org.opencontainers.image.source": "https://git.example.com/api"}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/app/config:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, nil)
	r := v.Verify(context.Background(), verify.Request{Image: ref.String(), Config: true})
	if r.Error != nil || r.Config == nil {
		t.Fatalf("error %v, config %+v", r.Error, r.Config)
	}
	c := r.Config
	if c.User != "65532" || strings.Join(c.EnvNames, ",") != "PATH,AWS_SECRET_ACCESS_KEY,DB_PASSWORD_FILE" ||
		strings.Join(c.CredentialEnv, ",") != "AWS_SECRET_ACCESS_KEY" || c.Labels["org.opencontainers.image.source"] != "https://git.example.com/api" {
		t.Fatalf("config %+v", c)
	}
	if r := v.Verify(context.Background(), verify.Request{Image: ref.String()}); r.Config != nil {
		t.Fatalf("configuration fetched without being asked for: %+v", r.Config)
	}
}
