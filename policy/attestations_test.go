package policy

import (
	"context"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/policy/rego"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

func attesting(name, predicateType string, as ...v1alpha1.Authority) v1alpha1.AttestationRequirement {
	return v1alpha1.AttestationRequirement{Name: name, PredicateType: predicateType, Authorities: as}
}

func TestCompileAttestations(t *testing.T) {
	builder := v1alpha1.Authority{Name: "builder", Key: &v1alpha1.KeyAuthority{Data: newKeyPEM(t)}}
	ca := verifytest.NewNotationCA(t, "release-ca")
	with := func(rs ...v1alpha1.AttestationRequirement) Object {
		o := keylessPolicy(v1alpha1.KindClusterImagePolicy, "", v1alpha1.Authority{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: newKeyPEM(t)}})
		o.Spec.Attestations = rs
		return o
	}
	tests := []compileCase{
		{name: "URI", o: with(attesting("provenance", attest.SLSAProvenanceV1, builder))},
		{name: "cosign --type alias", o: with(attesting("sbom", "cyclonedx", builder))},
		{name: "two requirements, same builder", o: with(attesting("provenance", "slsaprovenance1", builder), attesting("sbom", "spdxjson", builder))},
		{name: "unknown alias", o: with(attesting("sbom", "cyclone", builder)), wantErr: `spec.attestations[0] (sbom): predicateType "cyclone": give a predicate type URI`},
		{name: "no authorities", o: with(attesting("sbom", "cyclonedx")), wantErr: "authorities: list at least one key, keyless or Notation authority"},
		{name: "name twice", o: with(attesting("sbom", "cyclonedx", builder), attesting("sbom", "spdxjson", builder)), wantErr: "name is used twice in this policy's attestations"},
		{name: "bad name", o: with(attesting("SBOM", "cyclonedx", builder)), wantErr: "name must be a DNS label"},
		{name: "notation-signed documents", o: with(attesting("sbom", "cyclonedx", notationAuthority("release", inlineStore(ca.PEM), releaseIdentity)))},
		{name: "bad key", o: with(attesting("sbom", "cyclonedx", v1alpha1.Authority{Name: "builder", Key: &v1alpha1.KeyAuthority{Data: "nope"}})), wantErr: "authorities[0] (builder): key: public key"},
	}
	runCompileCases(t, tests)
	p := mustCompile(t, with(attesting("sbom", "cyclonedx", builder)))
	if len(p.Attestations) != 1 || p.Attestations[0].ID != "ClusterImagePolicy/p/attestations/sbom" || p.Attestations[0].PredicateType != attest.CycloneDX ||
		p.Attestations[0].Authorities[0].ID != "ClusterImagePolicy/p/attestations/sbom/builder" {
		t.Fatalf("checks %+v", p.Attestations)
	}
}

// A policy with attestations admits an image only when each requirement is
// met by a verified attestation; the denial says what is missing and how to
// attest.
func TestEvaluateAttestations(t *testing.T) {
	host := verifytest.Registry(t)
	ci, builder := verifytest.NewKey(t), verifytest.NewKey(t)
	push := func(repo string) v1Digest {
		d := verifytest.PushImage(t, host+"/"+repo+":v1")
		verifytest.Sign(t, host+"/"+repo, d, ci, verifytest.Payload(host+"/"+repo, d))
		return v1Digest{host + "/" + repo, d.String()}
	}
	attested, bare := push("app/attested"), push("app/bare")
	verifytest.Attest(t, attested.repo, attested.hash(t), builder, attest.CycloneDX, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}`))
	verifytest.Attest(t, bare.repo, bare.hash(t), ci, attest.CycloneDX, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}`))
	o := keylessPolicy(v1alpha1.KindClusterImagePolicy, "", v1alpha1.Authority{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: ci.PublicPEM}})
	o.Spec.Attestations = []v1alpha1.AttestationRequirement{attesting("sbom", "cyclonedx", v1alpha1.Authority{Name: "builder", Key: &v1alpha1.KeyAuthority{Data: builder.PublicPEM}})}
	p := mustCompile(t, o)
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		img  v1Digest
		want string
	}{
		{name: "attested by the builder", img: attested},
		{name: "attested by the signer, not the builder", img: bare, want: `sha256:` + bare.digest[7:] + ` has no verified https://cyclonedx.org/bom attestation signed by "builder" (key sha256:`},
		{name: "the fix", img: bare, want: "(1 of that type attached); ClusterImagePolicy/p requires one (attestation \"sbom\"). Fix: attest the image by digest, e.g. cosign attest --type cyclonedx --predicate <file> --key <key> " + bare.repo + "@" + bare.digest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := v.Verify(context.Background(), verify.Request{Image: tc.img.repo + "@" + tc.img.digest, Authorities: p.Authorities, Attestations: p.Attestations})
			out := p.Evaluate(&r)
			if tc.want == "" {
				if !out.Passed {
					t.Fatalf("outcome %+v", out)
				}
				return
			}
			if out.Passed || out.Reason != verify.ReasonAttestationMissing || !strings.Contains(out.Message, tc.want) {
				t.Fatalf("outcome %+v, want attestation-missing with %q", out, tc.want)
			}
		})
	}
}

func TestCompileRegoScope(t *testing.T) {
	with := func(scope v1alpha1.RegoScope) Object {
		o := keylessPolicy(v1alpha1.KindClusterImagePolicy, "", v1alpha1.Authority{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: newKeyPEM(t)}})
		o.Spec.Rego = &v1alpha1.RegoPolicy{Module: "package p\nallow := true\n", Scope: scope}
		return o
	}
	runCompileCases(t, []compileCase{
		{name: "default", o: with("")},
		{name: "image", o: with(v1alpha1.RegoScopeImage)},
		{name: "pod", o: with(v1alpha1.RegoScopePod)},
		{name: "container", o: with("container"), wantErr: `spec.rego.scope "container": use image (default) or pod`},
	})
	if p := mustCompile(t, with(v1alpha1.RegoScopePod)); !p.PodScope {
		t.Fatal("scope pod not compiled")
	}
}

// An image whose configuration could not be read fails a Rego policy with
// that reason rather than running the module without it.
func TestRegoConfigError(t *testing.T) {
	o := keylessPolicy(v1alpha1.KindClusterImagePolicy, "")
	o.Spec.Rego = &v1alpha1.RegoPolicy{Module: "package p\nallow := true\n"}
	p := mustCompile(t, o)
	r := verify.Result{Image: "registry.example.com/app:v1", Digest: "sha256:" + strings.Repeat("a", 64),
		ConfigError: &verify.Error{Reason: verify.ReasonRegistryRateLimit, Message: "fetching the configuration: 429"}}
	out := p.EvaluateRego(context.Background(), p.Evaluate(&r), &rego.Input{APIVersion: rego.InputVersion, Image: &rego.Image{Result: r}})
	if out.Passed || out.Reason != verify.ReasonRegistryRateLimit || out.Message != "fetching the configuration: 429" {
		t.Fatalf("outcome %+v", out)
	}
	r.ConfigError = nil
	if out := p.EvaluateRego(context.Background(), p.Evaluate(&r), &rego.Input{APIVersion: rego.InputVersion, Image: &rego.Image{Result: r}}); !out.Passed {
		t.Fatalf("without the error: %+v", out)
	}
}
