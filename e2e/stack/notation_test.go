package stack_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"gatehouse.dev/gatehouse/e2e/env"
	"gatehouse.dev/gatehouse/e2e/stack"
)

// TestNotation signs an image with the real notation CLI on zot (JWS, through
// the referrers API) and on docker-registry (COSE, through the sha256-<hex>
// tag fallback, which notation also writes on zot), finds the signature with go-containerregistry as gatehouse
// would, and has notation itself verify it offline against a strict trust
// policy.
func TestNotation(t *testing.T) {
	tools := env.RequireTools(t, env.ToolNotation, env.ToolZot, env.ToolRegistry)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	e := env.New(dir, tools)
	t.Cleanup(func() { e.Close() })
	zot, err := e.StartZot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := e.StartRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	n, err := stack.NewNotation(ctx, tools.Notation, filepath.Join(dir, "notation"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test key and certificate in %v; %s", time.Since(start), n.Subject)
	checkNotationCert(t, n, filepath.Join(dir, "notation"))

	for _, c := range []struct {
		name, host, envelope, layer string
		extra                       []string
		tagFallback                 bool
	}{
		// zot v1.4.3 answers the referrers API but sends no OCI-Subject
		// header, so notation (oras-go) indexes the signature under the
		// fallback tag even with --force-referrers-tag=false.
		{"zot-jws", zot, "jws", stack.NotationJWS, []string{"--force-referrers-tag=false"}, true},
		{"docker-registry-cose", reg, "cose", stack.NotationCOSE, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, digest, err := stack.PushImageTo(ctx, c.host, "notation/app:v1")
			if err != nil {
				t.Fatal(err)
			}
			ref := c.host + "/notation/app@" + digest
			start := time.Now()
			if err := n.Sign(ctx, ref, c.envelope, c.extra...); err != nil {
				t.Fatal(err)
			}
			t.Logf("signed %s (%s) in %v", ref, c.envelope, time.Since(start))
			checkNotationSignature(ctx, t, ref, c.layer)
			checkFallbackTag(ctx, t, c.host+"/notation/app", digest, c.tagFallback)

			start = time.Now()
			out, err := n.Verify(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out, []byte("Successfully verified signature for "+ref)) {
				t.Errorf("notation verify said:\n%s", out)
			}
			t.Logf("verified in %v", time.Since(start))

			// An image nobody signed does not verify.
			_, other, err := stack.PushImageTo(ctx, c.host, "notation/unsigned:v1")
			if err != nil {
				t.Fatal(err)
			}
			if out, err := n.Verify(ctx, c.host+"/notation/unsigned@"+other); err == nil {
				t.Errorf("notation verified an unsigned image:\n%s", out)
			}
		})
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err) // a registry crashed during the test
	}
}

// checkNotationCert checks the certificate NewNotation exposes: the one in
// the trust store, self-signed, with the subject in trusted identity form.
func checkNotationCert(t *testing.T, n *stack.Notation, dir string) {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(env.NotationConfigDir(dir), "localkeys", n.Name+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(key) != n.CertPEM {
		t.Errorf("the trust store's certificate is not the signing key's")
	}
	// Not CheckSignatureFrom: the certificate has no basicConstraints, so
	// Go does not take it for a CA, while notation trusts it as one.
	if n.Cert.IsCA {
		t.Errorf("test certificate unexpectedly has basicConstraints CA:TRUE")
	}
	if err := n.Cert.CheckSignature(n.Cert.SignatureAlgorithm, n.Cert.RawTBSCertificate, n.Cert.Signature); err != nil {
		t.Errorf("test certificate is not self-signed: %v", err)
	}
	if n.Cert.Subject.String() != n.Cert.Issuer.String() {
		t.Errorf("subject %s != issuer %s", n.Cert.Subject, n.Cert.Issuer)
	}
	want := "x509.subject: CN=" + stack.NotationKeyName + ",O=Notary,L=Seattle,ST=WA,C=US"
	if n.Subject != want {
		t.Errorf("Subject = %q, want %q", n.Subject, want)
	}
	if got := n.Cert.ExtKeyUsage; len(got) != 1 || got[0] != x509.ExtKeyUsageCodeSigning {
		t.Errorf("ExtKeyUsage = %v, want code signing", got)
	}
}

// checkNotationSignature lists ref's referrers and checks there is one
// Notary Project signature whose single layer is an envelope of layerType.
func checkNotationSignature(ctx context.Context, t *testing.T, ref, layerType string) {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Referrers(d, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var sigs []v1.Descriptor
	for _, desc := range im.Manifests {
		if desc.ArtifactType == stack.NotationArtifactType {
			sigs = append(sigs, desc)
		}
	}
	if len(sigs) != 1 {
		t.Fatalf("referrers of %s: %d notation signatures, want 1: %+v", ref, len(sigs), im.Manifests)
	}
	got, err := remote.Get(d.Context().Digest(sigs[0].Digest.String()), remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(got.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	raw := map[string]any{}
	_ = json.Unmarshal(got.Manifest, &raw)
	t.Logf("signature manifest %s: mediaType %s, artifactType %v, config %s, layer %v",
		sigs[0].Digest, m.MediaType, raw["artifactType"], m.Config.MediaType, m.Layers)
	if raw["artifactType"] != stack.NotationArtifactType && string(m.Config.MediaType) != stack.NotationArtifactType {
		t.Errorf("signature manifest: artifactType %v, config %s; want %s", raw["artifactType"], m.Config.MediaType, stack.NotationArtifactType)
	}
	if len(m.Layers) != 1 || string(m.Layers[0].MediaType) != layerType {
		t.Errorf("signature layers %+v, want one %s", m.Layers, layerType)
	}
	if m.Subject == nil || m.Subject.Digest.String() != d.DigestStr() {
		t.Errorf("signature subject %+v, want %s", m.Subject, d.DigestStr())
	}
}

// checkFallbackTag checks whether the sha256-<hex> referrers tag exists.
func checkFallbackTag(ctx context.Context, t *testing.T, repo, digest string, want bool) {
	t.Helper()
	tag, err := name.NewTag(repo + ":" + strings.Replace(digest, ":", "-", 1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(tag, remote.WithContext(ctx))
	if got := err == nil; got != want {
		t.Errorf("fallback tag %s exists = %v, want %v (%v)", tag, got, want, err)
	}
}
