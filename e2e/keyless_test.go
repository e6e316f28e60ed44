package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/e2e/stack"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

const (
	releaseWorkflow = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"
	otherWorkflow   = "https://github.com/org/app/.github/workflows/dev.yaml@refs/heads/main"
	githubIssuer    = "https://token.actions.githubusercontent.com"
)

// privateSigstore starts a private Sigstore for one test and returns it
// with its trusted_root.json.
func privateSigstore(t *testing.T) (*stack.PrivateSigstore, string) {
	t.Helper()
	ps, err := stack.NewPrivateSigstore()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	trustedRoot, err := ps.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	return ps, trustedRoot
}

// releaseAuthorities trusts the release workflow's certificates under
// trustedRoot (a spec.authorities[].keyless.trustedRoot), without a log.
func releaseAuthorities(trustedRoot map[string]any) []any {
	return []any{map[string]any{"name": "release-workflow", "keyless": map[string]any{
		"identities":               []any{map[string]any{"issuer": githubIssuer, "subject": releaseWorkflow}},
		"trustedRoot":              trustedRoot,
		"transparencyLogThreshold": int64(0),
	}}}
}

// Certificate-based (keyless) signatures made by the real cosign v2
// (legacy .sig format: certificate and RFC 3161 timestamp in annotations)
// and cosign v3 (sigstore bundle), with certificates of a private Sigstore
// CA and timestamps of its timestamp authority: admitted when the policy
// trusts the CA and the workflow identity, denied for another workflow.
func TestKeylessPrivateSigstore(t *testing.T) {
	ctx := need(t)
	ps, trustedRoot := privateSigstore(t)
	type image struct{ ref, digest string }
	signed := func(host, repo string, c *stack.Cosign, subject string, extra ...string) image {
		ref, digest, err := stack.PushImageTo(ctx, host, repo+":v1")
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			flags, err := ps.Certify(c.PublicKey, subject, githubIssuer, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Sign(ctx, host+"/"+repo+"@"+digest, append(flags, extra...)...); err != nil {
				t.Fatal(err)
			}
		}
		return image{ref, digest}
	}
	v2 := signed(suite.Registry, "keyless/v2", suite.Cosign, releaseWorkflow)
	v3 := signed(suite.Zot, "keyless/v3", suite.Cosign3, releaseWorkflow)
	v3Legacy := signed(suite.Registry, "keyless/v3-legacy", suite.Cosign3, releaseWorkflow, "--new-bundle-format=false")
	otherV2 := signed(suite.Registry, "keyless/other-v2", suite.Cosign, otherWorkflow)
	otherV3 := signed(suite.Zot, "keyless/other-v3", suite.Cosign3, otherWorkflow)
	unsigned := signed(suite.Zot, "keyless/unsigned", nil, "")

	p := stack.ClusterPolicy("keyless-private", []string{suite.Registry + "/keyless/**", suite.Zot + "/keyless/**"}, "unused", "", "")
	authorities := releaseAuthorities(map[string]any{"data": trustedRoot})
	if err := unstructured.SetNestedSlice(p.Object, authorities, "spec", "authorities"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, unsigned.ref); err != nil {
		t.Fatal(err)
	}
	for name, im := range map[string]image{"cosign v2 legacy": v2, "cosign v3 bundle": v3, "cosign v3 legacy format": v3Legacy} {
		if _, err := createPod(ctx, newPod("keyless", im.ref), true); err != nil {
			t.Errorf("%s: signed by the release workflow, denied: %v", name, err)
		}
	}
	for name, im := range map[string]image{"cosign v2": otherV2, "cosign v3": otherV3} {
		_, err := createPod(ctx, newPod("keyless-other", im.ref), true)
		t.Run(name+" by another workflow", func(t *testing.T) { wantDenied(t, err, "untrusted-signer", im.digest) })
	}
	_, err := createPod(ctx, newPod("keyless-unsigned", unsigned.ref), true)
	wantDenied(t, err, "unsigned", unsigned.digest)

	// The same CA and timestamp authority given as PEM, not trusted_root.json.
	ca, tsa := ps.PEMs()
	pemSigned := signed(suite.Registry, "keyless-pem/v2", suite.Cosign, releaseWorkflow)
	pemOther := signed(suite.Zot, "keyless-pem/other", suite.Cosign3, otherWorkflow)
	p = stack.ClusterPolicy("keyless-pem", []string{suite.Registry + "/keyless-pem/**", suite.Zot + "/keyless-pem/**"}, "unused", "", "")
	authorities = releaseAuthorities(map[string]any{"pem": map[string]any{"certificateAuthorities": []any{ca}, "timestampAuthorities": []any{tsa}}})
	if err := unstructured.SetNestedSlice(p.Object, authorities, "spec", "authorities"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, pemOther.ref); err != nil {
		t.Fatal(err)
	}
	if _, err := createPod(ctx, newPod("keyless-pem", pemSigned.ref), true); err != nil {
		t.Errorf("PEM trusted root: signed by the release workflow, denied: %v", err)
	}
	_, err = createPod(ctx, newPod("keyless-pem-other", pemOther.ref), true)
	wantDenied(t, err, "untrusted-signer", pemOther.digest)

	// The same trusted root distributed through a TUF repository, whose
	// archive sits in a ConfigMap as binary data.
	repo := verifytest.NewTUFRepo(t, map[string][]byte{"trusted_root.json": []byte(trustedRoot)}, time.Now().Add(time.Hour))
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: stack.SystemNamespace, Name: "sigstore-tuf"},
		BinaryData: map[string][]byte{"mirror.tar.gz": repo.TarGz(t, "")},
	}
	if _, err := suite.Client.CoreV1().ConfigMaps(stack.SystemNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tufSigned := signed(suite.Zot, "keyless-tuf/v3", suite.Cosign3, releaseWorkflow)
	tufOther := signed(suite.Registry, "keyless-tuf/other", suite.Cosign, otherWorkflow)
	p = stack.ClusterPolicy("keyless-tuf", []string{suite.Registry + "/keyless-tuf/**", suite.Zot + "/keyless-tuf/**"}, "unused", "", "")
	authorities = releaseAuthorities(map[string]any{"tuf": map[string]any{
		"root":               string(repo.Root),
		"mirrorConfigMapRef": map[string]any{"namespace": stack.SystemNamespace, "name": "sigstore-tuf"},
	}})
	if err := unstructured.SetNestedSlice(p.Object, authorities, "spec", "authorities"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, tufOther.ref); err != nil {
		t.Fatal(err)
	}
	if _, err := createPod(ctx, newPod("keyless-tuf", tufSigned.ref), true); err != nil {
		t.Errorf("TUF trusted root: signed by the release workflow, denied: %v", err)
	}
	_, err = createPod(ctx, newPod("keyless-tuf-other", tufOther.ref), true)
	wantDenied(t, err, "untrusted-signer", tufOther.digest)
}

// Keyless attestations made by the real cosign v2 (an .att layer with the
// certificate and an RFC 3161 timestamp over the stored envelope in its
// annotations) and cosign v3 (a sigstore bundle), with certificates of a
// private Sigstore: admitted when the release workflow attested, denied
// when another workflow did.
func TestKeylessAttestations(t *testing.T) {
	ctx := need(t)
	ps, trustedRoot := privateSigstore(t)
	predicate := filepath.Join(t.TempDir(), "provenance.json")
	if err := os.WriteFile(predicate, []byte(provenance(trustedBuilder)), 0o600); err != nil {
		t.Fatal(err)
	}
	type image struct{ ref, digest string }
	attested := func(host, repo string, c *stack.Cosign, attester string) image {
		ref, digest, err := stack.PushImageTo(ctx, host, repo+":v1")
		if err != nil {
			t.Fatal(err)
		}
		byDigest := host + "/" + repo + "@" + digest
		signer, err := ps.Certify(c.PublicKey, releaseWorkflow, githubIssuer, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Sign(ctx, byDigest, signer...); err != nil {
			t.Fatal(err)
		}
		flags, err := ps.Certify(c.PublicKey, attester, githubIssuer, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Attest(ctx, byDigest, "slsaprovenance1", predicate, flags...); err != nil {
			t.Fatal(err)
		}
		return image{ref, digest}
	}
	v2 := attested(suite.Registry, "keyless-att/v2", suite.Cosign, releaseWorkflow)
	v3 := attested(suite.Zot, "keyless-att/v3", suite.Cosign3, releaseWorkflow)
	otherV2 := attested(suite.Registry, "keyless-att/other-v2", suite.Cosign, otherWorkflow)
	otherV3 := attested(suite.Zot, "keyless-att/other-v3", suite.Cosign3, otherWorkflow)

	release := releaseAuthorities(map[string]any{"data": trustedRoot})
	p := stack.ClusterPolicy("keyless-att", []string{suite.Registry + "/keyless-att/**", suite.Zot + "/keyless-att/**"}, "unused", "", "")
	spec := p.Object["spec"].(map[string]any)
	spec["authorities"] = release
	spec["attestations"] = []any{map[string]any{"name": "provenance", "predicateType": "slsaprovenance1", "authorities": release}}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, otherV2.ref); err != nil {
		t.Fatal(err)
	}
	for name, im := range map[string]image{"cosign v2 .att": v2, "cosign v3 bundle": v3} {
		if _, err := createPod(ctx, newPod("keyless-att", im.ref), true); err != nil {
			t.Errorf("%s: attested by the release workflow, denied: %v", name, err)
		}
	}
	for name, im := range map[string]image{"cosign v2 .att": otherV2, "cosign v3 bundle": otherV3} {
		_, err := createPod(ctx, newPod("keyless-att-other", im.ref), true)
		t.Run(name+" by another workflow", func(t *testing.T) {
			wantDenied(t, err, "attestation-missing: "+im.digest+` has no verified https://slsa.dev/provenance/v1 attestation signed by "release-workflow" (keyless, subject `+releaseWorkflow+` from issuer `+githubIssuer+`) (1 of that type attached)`,
				"Fix: attest the image by digest without a key, from a signing identity named above, e.g. cosign attest --type slsaprovenance1 --predicate <file> "+strings.TrimSuffix(im.ref, ":v1")+"@"+im.digest)
		})
	}
}
