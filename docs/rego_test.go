package docs

import (
	"context"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/rego"
	"gatehouse.dev/gatehouse/verify"
)

// The documented Rego example decides as rego.md says it does.
func TestRegoExample(t *testing.T) {
	objs, err := policy.ReadFiles("examples/rego-policy.yaml")
	if err != nil || len(objs) != 1 {
		t.Fatalf("%d policies, error %v", len(objs), err)
	}
	p, err := policy.Compile(objs[0])
	if err != nil {
		t.Fatal(err)
	}
	signed := func(repo, tag string, pinned bool) *verify.Result {
		return &verify.Result{Image: repo + ":" + tag, Repository: repo, Tag: tag, Pinned: pinned, Digest: "sha256:" + strings.Repeat("1", 64),
			SignaturesFound: 1, Signatures: []verify.Signature{{Authority: p.Authorities[0].ID, Type: verify.TypeCosignLegacy, KeyID: p.Authorities[0].Key.ID}}}
	}
	tests := []struct {
		name        string
		result      *verify.Result
		wantMessage string // "" admits
		wantWarning string
	}{
		{name: "release tag from prod, pinned", result: signed("registry.example.com/prod/api", "v1.2.0", true)},
		{name: "unpinned", result: signed("registry.example.com/prod/api", "v1.2.0", false), wantWarning: "is not pinned in the manifest; gatehouse pins sha256:"},
		{name: "latest", result: signed("registry.example.com/prod/api", "latest", true), wantMessage: `ClusterImagePolicy/release-rules: tag "latest" is mutable: deploy a release tag or a digest`},
		{name: "not promoted", result: signed("registry.example.com/staging/api", "v1.2.0", true), wantMessage: "registry.example.com/staging/api is not under registry.example.com/prod/: promote the image first"},
		{name: "unsigned never reaches the module", result: &verify.Result{Image: "registry.example.com/prod/api:latest", Repository: "registry.example.com/prod/api", Digest: "sha256:" + strings.Repeat("1", 64)}, wantMessage: "is not signed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := p.EvaluateRego(context.Background(), p.Evaluate(tc.result), &rego.Input{APIVersion: rego.InputVersion, Image: rego.Image{Field: "containers", Container: "api", Result: *tc.result}})
			if o.Passed != (tc.wantMessage == "") || !strings.Contains(o.Message, tc.wantMessage) {
				t.Fatalf("outcome %+v, want message %q", o, tc.wantMessage)
			}
			if got := strings.Join(o.Warnings, "|"); (tc.wantWarning == "") != (got == "") || !strings.Contains(got, tc.wantWarning) {
				t.Fatalf("warnings %q, want %q", got, tc.wantWarning)
			}
		})
	}
}
