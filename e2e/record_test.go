package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/e2e/stack"
)

// gatehouse record copies images signed by the real tools, from both real
// registries, into an OCI layout; gatehouse test then decides them offline
// exactly as the webhook did: cosign v2 (.sig tag), cosign v3 (bundle via
// the referrers API), Notation (JWS referrer), and an unsigned image.
func TestRecordedPolicyTests(t *testing.T) {
	ctx := need(t)
	push := func(host, repo string) (string, string) {
		ref, digest, err := stack.PushImageTo(ctx, host, repo+":v1")
		if err != nil {
			t.Fatal(err)
		}
		return ref, digest
	}
	v2, v2Digest := push(suite.Registry, "recorded/v2")
	v3, v3Digest := push(suite.Zot, "recorded/v3")
	nv, nvDigest := push(suite.Zot, "recorded/notation")
	unsigned, _ := push(suite.Zot, "recorded/unsigned")
	for _, err := range []error{
		suite.Cosign.Sign(ctx, suite.Registry+"/recorded/v2@"+v2Digest),
		suite.Cosign3.Sign(ctx, suite.Zot+"/recorded/v3@"+v3Digest),
		suite.Notation.Sign(ctx, suite.Zot+"/recorded/notation@"+nvDigest, "jws"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	gatehouse := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, suite.bin, args...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := gatehouse("record", "--out", filepath.Join(dir, "registry"), v2, v3, nv, unsigned); err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	policy := map[string]any{
		"apiVersion": "gatehouse.dev/v1alpha1", "kind": "ClusterImagePolicy", "metadata": map[string]any{"name": "recorded"},
		"spec": map[string]any{
			"images":  []any{map[string]any{"glob": suite.Registry + "/recorded/**"}, map[string]any{"glob": suite.Zot + "/recorded/**"}},
			"require": "any",
			"authorities": []any{
				map[string]any{"name": "v2", "key": map[string]any{"data": suite.Cosign.PublicKey}},
				map[string]any{"name": "v3", "key": map[string]any{"data": suite.Cosign3.PublicKey}},
				map[string]any{"name": "notation", "notation": map[string]any{
					"trustStores":       []any{map[string]any{"type": "ca", "name": "e2e", "certificates": suite.Notation.CertPEM}},
					"trustedIdentities": []any{suite.Notation.Subject},
				}},
			},
		},
	}
	files := map[string]any{"policies/recorded.yaml": policy}
	for name, image := range map[string]string{"v2": v2, "v3": v3, "notation": nv, "unsigned": unsigned} {
		files["cases/"+name+".yaml"] = map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name, "namespace": "team"},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "app", "image": image}}}}
	}
	for name, obj := range files {
		data, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := gatehouse("test", "--update", dir); err != nil {
		t.Fatalf("test --update: %v\n%s", err, out)
	}
	for name, want := range map[string]string{
		"v2":       "allowed\npin: /spec/containers/0/image -> " + v2 + "@" + v2Digest + "\n",
		"v3":       "allowed\npin: /spec/containers/0/image -> " + v3 + "@" + v3Digest + "\n",
		"notation": "allowed\npin: /spec/containers/0/image -> " + nv + "@" + nvDigest + "\n",
		"unsigned": "denied (unsigned)\ndeny: image \"" + unsigned + "\" (containers \"app\"): unsigned:",
	} {
		got, err := os.ReadFile(filepath.Join(dir, "cases", name+".golden"))
		if err != nil || !strings.HasPrefix(string(got), want) {
			t.Errorf("%s: golden %q (%v), want it to start with %q", name, got, err, want)
		}
	}
	out, err := gatehouse("test", dir)
	if err != nil || !strings.HasSuffix(out, "4 passed, 0 failed\n") {
		t.Fatalf("test: %v\n%s", err, out)
	}
}
