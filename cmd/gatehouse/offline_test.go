package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/verifytest"
	"gatehouse.dev/gatehouse/webhook"
)

// fixtureRegistry holds a signed image with provenance, an unsigned one,
// and a policy file trusting the key.
type fixtureRegistry struct {
	host, signed, signedDigest, unsigned, policy string
}

func newFixtureRegistry(t *testing.T) fixtureRegistry {
	t.Helper()
	f := fixtureRegistry{host: verifytest.Registry(t)}
	key, builder := verifytest.NewKey(t), verifytest.NewKey(t)
	d := verifytest.PushImage(t, f.host+"/app/signed:v1")
	verifytest.Sign(t, f.host+"/app/signed", d, key, verifytest.Payload(f.host+"/app/signed", d))
	verifytest.Attest(t, f.host+"/app/signed", d, builder, attest.SLSAProvenanceV1, []byte(`{"runDetails":{"builder":{"id":"https://ci.example.com"}}}`))
	verifytest.PushImage(t, f.host+"/app/unsigned:v1")
	f.signed, f.signedDigest, f.unsigned = f.host+"/app/signed:v1", d.String(), f.host+"/app/unsigned:v1"
	indent := func(pem string) string { return strings.ReplaceAll(strings.TrimSpace(pem), "\n", "\n          ") }
	policy := fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: ClusterImagePolicy
metadata:
  name: ci
spec:
  images:
    - glob: %s/**
  authorities:
    - name: ci
      key:
        data: |
          %s
  attestations:
    - name: provenance
      predicateType: slsaprovenance1
      authorities:
        - name: builder
          key:
            data: |
              %s
  rego:
    module: |
      package ci
      import data.gatehouse.lib.slsa
      default allow := false
      allow if count(deny) == 0
      deny contains msg if some msg in slsa.builder_denials(input.image, {"https://ci.example.com"})
`, f.host, indent(key.PublicPEM), strings.ReplaceAll(indent(builder.PublicPEM), "\n          ", "\n              "))
	f.policy = filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(f.policy, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestVerifyCommand(t *testing.T) {
	f := newFixtureRegistry(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int // exitCode of the error; 0 for none
		wantOut  []string
	}{
		{name: "admitted, pinned", args: []string{"verify", "--policy", f.policy, f.signed}, wantOut: []string{"allowed\n", "pin: /spec/containers/0/image -> " + f.signed + "@" + f.signedDigest}},
		{name: "denied", args: []string{"verify", "--policy", f.policy, f.unsigned}, wantCode: 1,
			wantOut: []string{"denied (unsigned)\n", `deny: image "` + f.unsigned + `" (containers "c0"): unsigned:`}},
		{name: "json", args: []string{"verify", "--policy", f.policy, "--output", "json", f.signed}, wantOut: []string{`"allowed": true`, `"builderID": "https://ci.example.com"`, `"patch": [`}},
		{name: "object file", args: []string{"verify", "--policy", f.policy, "--object", writeFile(t, "deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: team}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: "+f.unsigned+"}]\n")},
			wantCode: 1, wantOut: []string{`(containers "web"): unsigned:`}},
		{name: "unmatched image", args: []string{"verify", "--policy", f.policy, "nginx:1.27"}, wantCode: 1, wantOut: []string{"unmatched-image"}},
		{name: "no policy", args: []string{"verify", f.signed}, wantCode: 2},
		{name: "policy that does not compile", args: []string{"verify", "--policy", writeFile(t, "bad.yaml", "apiVersion: gatehouse.dev/v1alpha1\nkind: ClusterImagePolicy\nmetadata: {name: x}\nspec: {images: [{glob: '**'}]}\n"), f.signed}, wantCode: 2},
		{name: "images and object", args: []string{"verify", "--policy", f.policy, "--object", "x.yaml", f.signed}, wantCode: 2},
		{name: "bad output", args: []string{"verify", "--policy", f.policy, "--output", "xml", f.signed}, wantCode: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := runCLI(t, tc.args...)
			if code := codeOf(err); code != tc.wantCode {
				t.Fatalf("exit code %d (%v), want %d\nstdout %s\nstderr %s", code, err, tc.wantCode, out, stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func codeOf(err error) int {
	if err == nil {
		return 0
	}
	return exitCode(err)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// record, then test: the verdicts recorded as goldens hold offline, and a
// changed golden fails with both verdicts shown.
func TestRecordAndTestCommands(t *testing.T) {
	f := newFixtureRegistry(t)
	dir := t.TempDir()
	if _, stderr, err := runCLI(t, "record", "--out", filepath.Join(dir, "registry"), f.signed, f.unsigned); err != nil {
		t.Fatalf("record: %v\n%s", err, stderr)
	}
	policy, _ := os.ReadFile(f.policy)
	for name, content := range map[string]string{
		"policies/ci.yaml":    string(policy),
		"cases/signed.yaml":   "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: team}\nspec: {containers: [{name: app, image: " + f.signed + "}]}\n",
		"cases/unsigned.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: team}\nspec: {containers: [{name: app, image: " + f.unsigned + "}]}\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := runCLI(t, "test", dir); codeOf(err) != 2 {
		t.Fatalf("without goldens: %v, want a configuration error", err)
	}
	if out, _, err := runCLI(t, "test", "--update", dir); err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	golden, _ := os.ReadFile(filepath.Join(dir, "cases", "unsigned.golden"))
	if !strings.HasPrefix(string(golden), "denied (unsigned)\ndeny: image \""+f.unsigned+"\" (containers \"app\"): unsigned:") {
		t.Fatalf("golden %s", golden)
	}
	out, _, err := runCLI(t, "test", dir)
	if err != nil || !strings.HasSuffix(out, "2 passed, 0 failed\n") {
		t.Fatalf("test: %v\n%s", err, out)
	}
	// A changed golden fails, with both verdicts shown.
	if err := os.WriteFile(filepath.Join(dir, "cases", "signed.golden"), []byte("denied\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "test", dir)
	if !errors.Is(err, errDenied) || !strings.Contains(out, "FAIL "+filepath.Join(dir, "cases", "signed.yaml")) || !strings.HasSuffix(out, "1 passed, 1 failed\n") {
		t.Fatalf("a changed golden: %v\n%s", err, out)
	}
	// verify --layout decides from the recorded layout, as the test did.
	out, _, err = runCLI(t, "verify", "--policy", f.policy, "--layout", filepath.Join(dir, "registry"), "--output", "json", f.signed)
	var d struct {
		Allowed bool `json:"allowed"`
	}
	if err != nil || json.Unmarshal([]byte(out), &d) != nil || !d.Allowed {
		t.Fatalf("verify --layout: %v\n%s", err, out)
	}
}

// verify judges the object the validating webhook would see: pinned by the
// mutating webhook first.
func TestVerifyJudgesThePinnedObject(t *testing.T) {
	f := newFixtureRegistry(t)
	policy, err := os.ReadFile(f.policy)
	if err != nil {
		t.Fatal(err)
	}
	withDigestRule := strings.Replace(string(policy), "      deny contains msg if some msg in slsa.builder_denials", "      deny contains \"not pinned\" if not input.image.pinned\n      deny contains msg if some msg in slsa.builder_denials", 1)
	file := writeFile(t, "pinned.yaml", withDigestRule)
	out, _, err := runCLI(t, "verify", "--policy", file, f.signed)
	if err != nil || !strings.Contains(out, "allowed\n") || !strings.Contains(out, "pin: /spec/containers/0/image -> "+f.signed+"@"+f.signedDigest) {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestApplyPatch(t *testing.T) {
	got, err := applyPatch([]byte(`{"spec":{"containers":[{"image":"a"},{"image":"b"}]}}`), []webhook.PatchOp{{Op: "replace", Path: "/spec/containers/1/image", Value: "b@sha256:x"}})
	if err != nil || string(got) != `{"spec":{"containers":[{"image":"a"},{"image":"b@sha256:x"}]}}` {
		t.Fatalf("%s, %v", got, err)
	}
	for _, path := range []string{"/spec/containers/2/image", "/spec/volumes/0/image", "/spec/containers/x/image"} {
		if _, err := applyPatch([]byte(`{"spec":{"containers":[{"image":"a"}]}}`), []webhook.PatchOp{{Op: "replace", Path: path, Value: "v"}}); err == nil {
			t.Errorf("%s: applied", path)
		}
	}
}

// --now fixes the clock Rego modules read.
func TestNowFlag(t *testing.T) {
	f := newFixtureRegistry(t)
	policy := writeFile(t, "clock.yaml", fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: clock}
spec:
  images: [{glob: "%s/**"}]
  rego:
    module: |
      package clock
      allow if time.now_ns() < time.parse_rfc3339_ns("2000-01-01T00:00:00Z")
`, f.host))
	if _, _, err := runCLI(t, "verify", "--policy", policy, f.signed); codeOf(err) != 1 {
		t.Fatalf("the real clock: %v, want denied", err)
	}
	if out, _, err := runCLI(t, "verify", "--policy", policy, "--now", "1999-12-31T00:00:00Z", f.signed); err != nil {
		t.Fatalf("--now 1999: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "verify", "--policy", policy, "--now", "yesterday", f.signed); codeOf(err) != 2 {
		t.Fatalf("--now yesterday: %v, want a usage error", err)
	}
}
