package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"gatehouse.dev/gatehouse/e2e/env"
	"gatehouse.dev/gatehouse/e2e/stack"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// pushNodeApp pushes an image holding two installed npm packages, one
// under GPL-3.0-only, to the registry without the referrers API, and
// returns its reference and digest.
func pushNodeApp(t *testing.T, repo string) (string, string) {
	t.Helper()
	return pushNodeAppTo(t, suite.Registry, repo)
}

// pushNodeAppTo is pushNodeApp to the registry host.
func pushNodeAppTo(t *testing.T, host, repo string) (string, string) {
	t.Helper()
	layer, err := crane.Layer(map[string][]byte{
		"app/package.json":                        []byte(`{"name":"api","version":"1.4.0","license":"MIT"}`),
		"app/REPOSITORY":                          []byte(repo), // one digest per repository
		"app/node_modules/left-pad/package.json":  []byte(`{"name":"left-pad","version":"1.3.0","license":"WTFPL"}`),
		"app/node_modules/gpl-thing/package.json": []byte(`{"name":"gpl-thing","version":"2.0.1","license":"GPL-3.0-only"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.String(), d.String()
}

// noGPL denies images whose SBOM lists a GPL-3.0-only component.
const noGPL = `package e2e.sbom

import data.gatehouse.lib.sbom

default allow := false

allow if count(deny) == 0

deny contains msg if some msg in sbom.license_denials(input.image, {"GPL-3.0-only"})
`

// syftSBOM scans image with the real syft and writes its CycloneDX SBOM.
func syftSBOM(ctx context.Context, t *testing.T, bin, image, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "scan", "registry:"+image, "-o", "cyclonedx-json="+out)
	cmd.Env = append(os.Environ(), "SYFT_REGISTRY_INSECURE_USE_HTTP=true", "SYFT_CHECK_FOR_APP_UPDATE=false", "HOME="+filepath.Dir(out))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("syft: %v\n%s", err, b)
	}
}

// An SBOM made by the real syft from the image in the registry, attested by
// the real cosign, reaches the Rego module typed: the GPL-3.0 package it
// lists is denied by name, version and license.
func TestSyftSBOM(t *testing.T) {
	ctx := need(t)
	tools, err := env.FindTools()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	builder := newBuilder(ctx, t, dir)
	ref, digest := pushNodeApp(t, "sbom/app")
	byDigest := suite.Registry + "/sbom/app@" + digest
	if err := suite.Cosign.Sign(ctx, byDigest); err != nil {
		t.Fatal(err)
	}
	sbomFile := filepath.Join(dir, "sbom.cdx.json")
	syftSBOM(ctx, t, tools.Syft, byDigest, sbomFile)
	if err := builder.Attest(ctx, byDigest, "cyclonedx", sbomFile); err != nil {
		t.Fatal(err)
	}
	p := stack.ClusterPolicy("sbom", []string{suite.Registry + "/sbom/**"}, "release", suite.Cosign.PublicKey, "")
	spec := p.Object["spec"].(map[string]any)
	spec["attestations"] = []any{map[string]any{"name": "sbom", "predicateType": "cyclonedx",
		"authorities": []any{map[string]any{"name": "builder", "key": map[string]any{"data": builder.PublicKey}}}}}
	spec["rego"] = map[string]any{"module": noGPL}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, ref); err != nil {
		t.Fatal(err)
	}
	_, err = createPod(ctx, newPod("sbom-gpl", ref), true)
	pinned := ref + "@" + digest // pinned by the mutating webhook before the module judges it
	wantDenied(t, err, fmt.Sprintf(`image %q (containers "ca"): rego-deny: ClusterImagePolicy/sbom: %s contains gpl-thing 2.0.1 under GPL-3.0-only, a denied license`, pinned, pinned))
}

// The Ratify way: an SBOM made by the real syft, attached to the image as
// a plain OCI referrer (as oras attach does) and signed, as an artifact,
// by the real notation CLI, reaches the Rego module typed; its GPL-3.0
// package is denied by name. Unsigned, the SBOM does not count.
func TestNotationSignedSBOM(t *testing.T) {
	ctx := need(t)
	tools, err := env.FindTools()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	attach := func(repo string, sign bool) (string, string) {
		ref, digest := pushNodeAppTo(t, suite.Zot, repo)
		byDigest := suite.Zot + "/" + repo + "@" + digest
		if err := suite.Notation.Sign(ctx, byDigest, "jws"); err != nil {
			t.Fatal(err)
		}
		sbomFile := filepath.Join(dir, strings.ReplaceAll(repo, "/", "-")+".cdx.json")
		syftSBOM(ctx, t, tools.Syft, byDigest, sbomFile)
		sbom, err := os.ReadFile(sbomFile)
		if err != nil {
			t.Fatal(err)
		}
		h, err := v1.NewHash(digest)
		if err != nil {
			t.Fatal(err)
		}
		doc := verifytest.AttachDocument(t, suite.Zot+"/"+repo, h, sbom, "application/vnd.cyclonedx+json")
		if sign {
			if err := suite.Notation.Sign(ctx, suite.Zot+"/"+repo+"@"+doc.String(), "jws"); err != nil {
				t.Fatal(err)
			}
		}
		return ref, digest
	}
	signed, signedDigest := attach("notation-sbom/app", true)
	unsigned, unsignedDigest := attach("notation-sbom/unsigned", false)

	p := notationPolicy("notation-sbom", []string{suite.Zot + "/notation-sbom/**"}, suite.Notation.Subject)
	spec := p.Object["spec"].(map[string]any)
	spec["attestations"] = []any{map[string]any{"name": "sbom", "predicateType": "cyclonedx", "authorities": spec["authorities"]}}
	spec["rego"] = map[string]any{"module": noGPL}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, unsigned); err != nil {
		t.Fatal(err)
	}
	_, err = createPod(ctx, newPod("notation-sbom", signed), true)
	pinned := signed + "@" + signedDigest
	wantDenied(t, err, fmt.Sprintf(`image %q (containers "ca"): rego-deny: ClusterImagePolicy/notation-sbom: %s contains gpl-thing 2.0.1 under GPL-3.0-only, a denied license`, pinned, pinned))
	_, err = createPod(ctx, newPod("notation-sbom-unsigned", unsigned), true)
	wantDenied(t, err, "attestation-missing: "+unsignedDigest+" has no verified https://cyclonedx.org/bom attestation signed by",
		"(1 of that type attached)", "Fix: attach the document as a referrer and sign that with notation")
}
