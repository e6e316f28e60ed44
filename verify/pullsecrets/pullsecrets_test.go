package pullsecrets_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/pullsecrets"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// privateRegistry serves an in-memory registry to clients with the right
// basic credentials only. Pushing uses the back door.
func privateRegistry(t *testing.T) (host, backdoor string) {
	t.Helper()
	reg := ggcrregistry.New()
	open := httptest.NewServer(reg)
	t.Cleanup(open.Close)
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "puller" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(private.Close)
	return strings.TrimPrefix(private.URL, "http://"), strings.TrimPrefix(open.URL, "http://")
}

func dockerConfig(t *testing.T, name, host string) *corev1.Secret {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"username": "puller", "password": "s3cret"}}})
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: cfg},
	}
}

func TestPullSecrets(t *testing.T) {
	host, backdoor := privateRegistry(t)
	key := verifytest.NewKey(t)
	d := verifytest.PushImage(t, backdoor+"/app/x:v1")
	verifytest.Sign(t, backdoor+"/app/x", d, key, verifytest.Payload(host+"/app/x", d))
	k, err := verify.ParseKey(key.PublicPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		objects     []any
		sa          string
		podSecrets  []string
		wantErrPart string
	}{
		{name: "pod's imagePullSecret", objects: []any{dockerConfig(t, "pull", host)}, podSecrets: []string{"pull"}},
		{name: "service account's imagePullSecret", sa: "builder", objects: []any{
			dockerConfig(t, "sa-pull", host),
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "team"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-pull"}}},
		}},
		{name: "no credentials", wantErrPart: "registry-error"},
		{name: "credentials for another registry", objects: []any{dockerConfig(t, "pull", "registry.example.com")}, podSecrets: []string{"pull"}, wantErrPart: "registry-error"},
		{name: "secret in another namespace is not used", objects: []any{func() any { s := dockerConfig(t, "pull", host); s.Namespace = "other"; return s }()},
			podSecrets: []string{"pull"}, wantErrPart: "registry-error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			for _, o := range tc.objects {
				switch o := o.(type) {
				case *corev1.Secret:
					client.Tracker().Add(o)
				case *corev1.ServiceAccount:
					client.Tracker().Add(o)
				}
			}
			kc, err := pullsecrets.NewCluster(client, 0).Keychain(context.Background(), "team", tc.sa, tc.podSecrets)
			if err != nil {
				t.Fatal(err)
			}
			r := v.Verify(context.Background(), verify.Request{Image: host + "/app/x:v1", Keychain: kc, Authorities: []verify.Authority{{ID: "p/ci", Key: k}}})
			if tc.wantErrPart != "" {
				if r.Error == nil || !strings.Contains(r.Error.Error(), tc.wantErrPart) {
					t.Fatalf("error %v, want %q", r.Error, tc.wantErrPart)
				}
				return
			}
			if r.Error != nil || !r.SignedBy("p/ci") {
				t.Fatalf("error %v, signed %v", r.Error, r.SignedBy("p/ci"))
			}
		})
	}
}

// A burst of pods from one controller reads the secrets once.
func TestKeychainCacheReadsSecretsOnce(t *testing.T) {
	client := fake.NewClientset(dockerConfig(t, "pull", "registry.example.com"))
	src := pullsecrets.NewCluster(client, time.Minute)
	for range 3 {
		if _, err := src.Keychain(context.Background(), "team", "", []string{"pull"}); err != nil {
			t.Fatal(err)
		}
	}
	gets := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "secrets" {
			gets++
		}
	}
	if gets != 1 {
		t.Fatalf("secret read %d times for 3 keychains, want 1", gets)
	}
}
