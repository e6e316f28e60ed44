package docs

import (
	"context"
	"gatehouse.dev/gatehouse/verify/attest"
	"strings"
	"testing"
	"time"

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
			o := p.EvaluateRego(context.Background(), p.Evaluate(tc.result), &rego.Input{APIVersion: rego.InputVersion, Image: &rego.Image{Field: "containers", Container: "api", Result: *tc.result}})
			if o.Passed != (tc.wantMessage == "") || !strings.Contains(o.Message, tc.wantMessage) {
				t.Fatalf("outcome %+v, want message %q", o, tc.wantMessage)
			}
			if got := strings.Join(o.Warnings, "|"); (tc.wantWarning == "") != (got == "") || !strings.Contains(got, tc.wantWarning) {
				t.Fatalf("warnings %q, want %q", got, tc.wantWarning)
			}
		})
	}
}

// The supply-chain example admits an image whose attestations meet it, and
// denies each way they may fall short, with the library's messages.
func TestSupplyChainExample(t *testing.T) {
	objs, err := policy.ReadFiles("examples/supply-chain-policy.yaml")
	if err != nil || len(objs) != 1 {
		t.Fatalf("%d policies, error %v", len(objs), err)
	}
	p, err := policy.Compile(objs[0])
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	good := func() *verify.Result {
		return &verify.Result{
			Image: "registry.example.com/prod/api:v1.4.0", Repository: "registry.example.com/prod/api", Tag: "v1.4.0", Digest: "sha256:" + strings.Repeat("1", 64),
			SignaturesFound: 1, Signatures: []verify.Signature{{Authority: p.Authorities[0].ID, Type: verify.TypeCosignLegacy, KeyID: p.Authorities[0].Key.ID}},
			Attestations: []verify.Attestation{
				{Requirement: p.Attestations[0].ID, Predicate: attest.Predicate{Kind: "provenance", Provenance: &attest.Provenance{BuilderID: "https://ci.example.com/builders/release", SourceRepository: "https://git.example.com/example-org/api"}}},
				{Requirement: p.Attestations[1].ID, Predicate: attest.Predicate{Kind: "sbom", SBOM: &attest.SBOM{Components: []attest.Component{{Name: "golang.org/x/net", Version: "v0.30.0", PURL: "pkg:golang/golang.org/x/net@v0.30.0", Licenses: []string{"BSD-3-Clause"}}}}}},
				{Requirement: p.Attestations[2].ID, Predicate: attest.Predicate{Kind: "vulnerabilities", Vulnerabilities: &attest.Vulnerabilities{ScanFinishedOn: &now,
					Findings: []attest.Finding{{ID: "CVE-2023-4911", Severity: "critical"}, {ID: "CVE-2022-0563", Severity: "low"}}}}},
			},
		}
	}
	tests := []struct {
		name   string
		change func(r *verify.Result)
		want   string // "" admits
	}{
		{name: "meets the chain", change: func(*verify.Result) {}},
		{name: "other builder", change: func(r *verify.Result) { r.Attestations[0].Provenance.BuilderID = "https://laptop.example.com" },
			want: "was not built by a trusted builder: its provenance names https://laptop.example.com; trusted: https://ci.example.com/builders/release"},
		{name: "GPL-3.0 component", change: func(r *verify.Result) {
			r.Attestations[1].SBOM.Components = append(r.Attestations[1].SBOM.Components, attest.Component{Name: "readline", Version: "8.2", Licenses: []string{"GPL-3.0-or-later"}})
		}, want: "contains readline 8.2 under GPL-3.0-or-later, a denied license"},
		{name: "unaccepted critical", change: func(r *verify.Result) {
			r.Attestations[2].Vulnerabilities.Findings = append(r.Attestations[2].Vulnerabilities.Findings, attest.Finding{ID: "CVE-2024-3094", Severity: "critical"})
		}, want: "has 1 critical vulnerabilities, policy allows 0: CVE-2024-3094"},
		{name: "stale scan", change: func(r *verify.Result) {
			old := now.Add(-8 * 24 * time.Hour)
			r.Attestations[2].Vulnerabilities.ScanFinishedOn = &old
		}, want: "more than 168h ago: scan it again and attest the report"},
		{name: "missing provenance", change: func(r *verify.Result) { r.Attestations = r.Attestations[1:] }, want: `attestation-missing`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.change(r)
			o := p.Evaluate(r)
			o = p.EvaluateRego(context.Background(), o, &rego.Input{APIVersion: rego.InputVersion, Image: &rego.Image{Field: "containers", Container: "api", Result: *r}})
			if o.Passed != (tc.want == "") || !strings.Contains(string(o.Reason)+": "+o.Message, tc.want) {
				t.Fatalf("outcome %+v, want %q", o, tc.want)
			}
		})
	}
}
