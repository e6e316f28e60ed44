package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/policy"
)

const keyPolicy = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: release
spec:
  images: [{glob: registry.example.com/**}]
  authorities: [{name: release, key: {secretRef: {name: release-key}}}]
`

const keylessPolicy = `apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata:
  name: ci
spec:
  images: [{glob: registry.example.com/**}]
  authorities:
    - name: ci
      keyless:
        url: https://fulcio.example.com
        trustRootRef: private
        identities: [{issuer: https://issuer.example.com, subject: ci@example.com}]
      ctlog: {url: https://rekor.example.com, trustRootRef: private}
`

func TestRun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keyless.yaml")
	if err := os.WriteFile(file, []byte(keylessPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		stdin      string
		code       int
		policies   int    // written to standard output
		wantStderr string // a part of standard error
	}{
		{name: "exact from standard input", stdin: keyPolicy, code: exitExact, policies: 1, wantStderr: "1 converted exactly, 0 converted with changes, 0 not converted"},
		{name: "secret namespace", args: []string{"--secret-namespace", "sigstore"}, stdin: keyPolicy, code: exitExact, policies: 1, wantStderr: "Secret sigstore/release-key"},
		{name: "dash is standard input", args: []string{"-"}, stdin: keyPolicy, code: exitExact, policies: 1},
		{name: "trust root named", args: []string{"--trusted-root-configmap", "private=gatehouse-system/private-root", file}, code: exitExact, policies: 1, wantStderr: "ConfigMap gatehouse-system/private-root key trusted_root.json"},
		{name: "trust root not named", args: []string{"--trusted-root-configmap", "gatehouse-system/public-root", file}, code: exitChanged, wantStderr: "NOT CONVERTED"},
		{name: "files and standard input together", args: []string{"--trusted-root-configmap", "private=gatehouse-system/private-root/root.json", file, "-"}, stdin: keyPolicy, code: exitExact, policies: 2},
		{name: "changed meaning", stdin: strings.Replace(keyPolicy, "registry.example.com/**", "registry.example.com/app", 1), code: exitChanged, policies: 1, wantStderr: "REVIEW"},
		{name: "unknown field", stdin: strings.Replace(keyPolicy, "images:", "imagez:", 1), code: exitBadInput, wantStderr: `unknown field "spec.imagez"`},
		{name: "no policy", stdin: "# nothing\n", code: exitBadInput, wantStderr: "no policy-controller ClusterImagePolicy"},
		{name: "missing file", args: []string{filepath.Join(dir, "missing.yaml")}, code: exitBadInput, wantStderr: "missing.yaml"},
		{name: "bad input in a later file writes nothing", args: []string{file, "-"}, stdin: "kind: Pod\n", code: exitBadInput, wantStderr: "-: document 1"},
		{name: "unknown flag", args: []string{"--kubeconfig", "x"}, code: exitBadInput, wantStderr: "flag provided but not defined"},
		{name: "bad configmap", args: []string{"--trusted-root-configmap", "just-a-name"}, code: exitBadInput, wantStderr: "want namespace/name"},
		{name: "public root twice", args: []string{"--trusted-root-configmap", "a/b", "--trusted-root-configmap", "c/d"}, code: exitBadInput, wantStderr: "already given"},
		{name: "trust root twice", args: []string{"--trusted-root-configmap", "x=a/b", "--trusted-root-configmap", "x=c/d"}, code: exitBadInput, wantStderr: "already given"},
		{name: "bad secret namespace", args: []string{"--secret-namespace", "Cosign System"}, code: exitBadInput, wantStderr: "not a namespace name"},
		{name: "help", args: []string{"-h"}, code: exitExact, wantStderr: "-trusted-root-configmap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr does not say %q:\n%s", tc.wantStderr, stderr.String())
			}
			objs, err := policy.ReadDocuments(stdout.Bytes())
			if err != nil {
				t.Fatalf("gatehouse cannot read the output: %v\n%s", err, stdout.String())
			}
			if len(objs) != tc.policies {
				t.Errorf("wrote %d policies, want %d:\n%s", len(objs), tc.policies, stdout.String())
			}
		})
	}
}
