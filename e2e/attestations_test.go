package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gatehouse.dev/gatehouse/e2e/env"
	"gatehouse.dev/gatehouse/e2e/stack"
)

const (
	trustedBuilder = "https://ci.example.com/builders/release"
	attestRules    = `package e2e.supplychain

import data.gatehouse.lib.sbom
import data.gatehouse.lib.slsa
import data.gatehouse.lib.vulnerabilities as vulns

default allow := false

allow if count(deny) == 0

deny contains msg if some msg in slsa.builder_denials(input.image, {"` + trustedBuilder + `"})

deny contains msg if some msg in sbom.license_denials(input.image, {"GPL-3.0-only"})

deny contains msg if some msg in vulns.count_denials(input.image, {"critical": 0}, {})

deny contains msg if some msg in vulns.age_denials(input.image, "168h")
`
)

func provenance(builder string) string {
	return `{"buildDefinition":{"buildType":"https://ci.example.com/buildtypes/container/v1","externalParameters":{"source":"git+https://git.example.com/example-org/api@refs/heads/main"},
"resolvedDependencies":[{"uri":"git+https://git.example.com/example-org/api@refs/heads/main","digest":{"gitCommit":"9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"}}]},
"runDetails":{"builder":{"id":"` + builder + `"},"metadata":{"invocationID":"build-42"}}}`
}

func cyclonedx(license string) string {
	return `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[
{"type":"library","name":"golang.org/x/net","version":"v0.30.0","purl":"pkg:golang/golang.org/x/net@v0.30.0","licenses":[{"license":{"id":"BSD-3-Clause"}}]},
{"type":"library","name":"readline","version":"8.2","purl":"pkg:deb/debian/readline@8.2","licenses":[{"license":{"id":"` + license + `"}}]}]}`
}

func vulnReport(finished time.Time, severity string) string {
	return fmt.Sprintf(`{"invocation":{},"scanner":{"uri":"pkg:github/aquasecurity/trivy@v0.58.1","version":"0.58.1","result":{"SchemaVersion":2,"Results":[{"Target":"debian 12","Vulnerabilities":[
{"VulnerabilityID":"CVE-2024-3094","PkgName":"xz-utils","InstalledVersion":"5.6.0-0.2","FixedVersion":"5.6.1","Severity":%q}]}]}},
"metadata":{"scanStartedOn":%q,"scanFinishedOn":%q}}`, severity, finished.Add(-time.Minute).Format(time.RFC3339), finished.Format(time.RFC3339))
}

// The supply chain end to end: images signed by the release key (cosign
// v2), with provenance and an SBOM attested by the builder (cosign v2,
// .att tags) and a vulnerability report attested by the scanner (cosign
// v3, a bundle through the referrers tag fallback), judged by a Rego module
// over the typed attestations with gatehouse's library. Each failure is
// denied with the library's message, word for word; warn mode admits with
// the same message as a warning.
func TestAttestations(t *testing.T) {
	ctx := need(t)
	dir := t.TempDir()
	builder := newBuilder(ctx, t, dir)
	scanner := suite.Cosign3
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now().UTC()
	type image struct{ ref, digest string }
	push := func(repo, builderID, license string, scanned time.Time, severity string) image {
		ref, digest, err := suite.PushImage(ctx, repo+":v1")
		if err != nil {
			t.Fatal(err)
		}
		byDigest := suite.Registry + "/" + repo + "@" + digest
		steps := []error{
			suite.Cosign.Sign(ctx, byDigest),
			builder.Attest(ctx, byDigest, "slsaprovenance1", file(strings.ReplaceAll(repo, "/", "-")+"-provenance.json", provenance(builderID))),
			builder.Attest(ctx, byDigest, "cyclonedx", file(strings.ReplaceAll(repo, "/", "-")+"-sbom.json", cyclonedx(license))),
			scanner.Attest(ctx, byDigest, "vuln", file(strings.ReplaceAll(repo, "/", "-")+"-vuln.json", vulnReport(scanned, severity))),
		}
		for _, err := range steps {
			if err != nil {
				t.Fatal(err)
			}
		}
		return image{ref, digest}
	}
	good := push("att/good", trustedBuilder, "MIT", now, "LOW")
	otherBuilder := push("att/other-builder", "https://laptop.example.com/dev", "MIT", now, "LOW")
	gpl := push("att/gpl", trustedBuilder, "GPL-3.0-only", now, "LOW")
	critical := push("att/critical", trustedBuilder, "MIT", now, "CRITICAL")
	stale := push("att/stale", trustedBuilder, "MIT", now.Add(-10*24*time.Hour), "LOW")
	warned := push("att/warn/app", "https://laptop.example.com/dev", "MIT", now, "LOW")

	policy := func(name, glob, mode string) *unstructured.Unstructured {
		p := stack.ClusterPolicy(name, []string{suite.Registry + glob}, "release", suite.Cosign.PublicKey, "")
		key := func(pem string) []any {
			return []any{map[string]any{"name": "signer", "key": map[string]any{"data": pem}}}
		}
		spec := p.Object["spec"].(map[string]any)
		spec["attestations"] = []any{
			map[string]any{"name": "provenance", "predicateType": "slsaprovenance1", "authorities": key(builder.PublicKey)},
			map[string]any{"name": "sbom", "predicateType": "cyclonedx", "authorities": key(builder.PublicKey)},
			map[string]any{"name": "scan", "predicateType": "vuln", "authorities": key(scanner.PublicKey)},
		}
		spec["rego"] = map[string]any{"module": attestRules}
		if mode != "" {
			spec["mode"] = mode
		}
		return p
	}
	for _, p := range []*unstructured.Unstructured{policy("attestations", "/att/*", ""), policy("attestations-warn", "/att/warn/**", "warn")} {
		if err := suite.CreateClusterPolicy(ctx, p); err != nil {
			t.Fatalf("creating %s: %v", p.GetName(), err)
		}
	}
	if err := suite.WaitPolicy(ctx, warned.ref); err != nil {
		t.Fatal(err)
	}
	if _, err := createPod(ctx, newPod("att-good", good.ref), true); err != nil {
		t.Errorf("an image that meets the supply chain denied: %v", err)
	}
	// The mutating webhook pins what the signatures verified; the module
	// judges the pinned pod, as the validating webhook sees it.
	denied := func(name string, im image, msg string) {
		t.Helper()
		_, err := createPod(ctx, newPod(name, im.ref), true)
		pinned := im.ref + "@" + im.digest
		wantDenied(t, err, fmt.Sprintf(`image %q (containers "ca"): rego-deny: ClusterImagePolicy/attestations: %s`, pinned, fmt.Sprintf(msg, pinned)))
	}
	denied("att-other-builder", otherBuilder, "%s was not built by a trusted builder: its provenance names https://laptop.example.com/dev; trusted: "+trustedBuilder)
	denied("att-gpl", gpl, "%s contains readline 8.2 under GPL-3.0-only, a denied license")
	denied("att-critical", critical, "%s has 1 critical vulnerabilities, policy allows 0: CVE-2024-3094")
	denied("att-stale", stale, "%s was last scanned at "+now.Add(-10*24*time.Hour).Format(time.RFC3339)+", more than 168h ago: scan it again and attest the report")

	w := &warnings{}
	cfg := rest.CopyConfig(suite.API.Config)
	cfg.WarningHandler = w
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods(stack.AppNamespace).Create(ctx, newPod("att-warned", warned.ref), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("warn mode denied: %v", err)
	}
	pinned := warned.ref + "@" + warned.digest // warn mode does not stop the mutating webhook from pinning
	want := fmt.Sprintf(`would be denied: image %q (containers "ca"): rego-deny: ClusterImagePolicy/attestations-warn: %s was not built by a trusted builder`, pinned, pinned)
	if !strings.Contains(w.all(), want) {
		t.Errorf("warnings %q lack %q", w.all(), want)
	}

	// A policy whose attestation was never made: attestation-missing.
	unattested, digest, err := suite.PushImage(ctx, "att/unattested:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.Cosign.Sign(ctx, suite.Registry+"/att/unattested@"+digest); err != nil {
		t.Fatal(err)
	}
	_, err = createPod(ctx, newPod("att-unattested", unattested), true)
	wantDenied(t, err, fmt.Sprintf(`attestation-missing: %s has no verified https://slsa.dev/provenance/v1 attestation signed by "signer"`, digest),
		"(0 of that type attached); ClusterImagePolicy/attestations requires one (attestation \"provenance\"). Fix: attest the image by digest, e.g. cosign attest --type slsaprovenance1")
}

// newBuilder is a CI builder's own key pair, made by the real cosign v2
// in dir, to sign attestations apart from the image signers.
func newBuilder(ctx context.Context, t *testing.T, dir string) *stack.Cosign {
	t.Helper()
	tools, err := env.FindTools()
	if err != nil {
		t.Fatal(err)
	}
	builder, err := stack.NewCosign(ctx, tools.Cosign, filepath.Join(dir, "builder"))
	if err != nil {
		t.Fatal(err)
	}
	return builder
}
