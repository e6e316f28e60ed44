package layout_test

import (
	"context"

	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/layout"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// What a recorded layout serves verifies exactly as the registry it was
// recorded from: signatures of every format, attestations, platform images.
func TestRecordThenServe(t *testing.T) {
	host := verifytest.Registry(t)
	key, builder := verifytest.NewKey(t), verifytest.NewKey(t)
	ca := verifytest.NewNotationCA(t, "release-ca")
	repo := host + "/app/web"
	d := verifytest.PushImage(t, repo+":v1")
	verifytest.Sign(t, repo, d, key, verifytest.Payload(repo, d))
	verifytest.SignBundle(t, repo, d, builder)
	verifytest.Attest(t, repo, d, builder, attest.SLSAProvenanceV1, []byte(`{"runDetails":{"builder":{"id":"https://ci.example.com"}}}`))
	verifytest.SignNotation(t, repo, d, ca.Signer(t, releaseSubject, time.Now().Add(time.Hour)), verifytest.NotationJWS)
	sbom := verifytest.AttachDocument(t, repo, d, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"name":"left-pad","version":"1.3.0"}]}`), attest.CycloneDXArtifactType)
	verifytest.SignNotation(t, repo, sbom, ca.Signer(t, releaseSubject, time.Now().Add(time.Hour)), verifytest.NotationJWS)
	index, children := verifytest.PushIndex(t, host+"/app/multi:v2", "linux/amd64", "linux/arm64")
	verifytest.Sign(t, host+"/app/multi", children["linux/arm64"], key, verifytest.Payload(host+"/app/multi", children["linux/arm64"]))
	unsigned := verifytest.PushImage(t, host+"/app/unsigned:v1")

	dir := filepath.Join(t.TempDir(), "layout")
	if err := layout.Record(context.Background(), dir, references(t, repo+":v1", host+"/app/multi:v2", host+"/app/unsigned@"+unsigned.String())); err != nil {
		t.Fatal(err)
	}
	rt, err := layout.Serve(dir)
	if err != nil {
		t.Fatal(err)
	}
	authorities := []verify.Authority{authority(t, "p/key", key), authority(t, "p/bundle", builder), notation(t, "p/notation", ca)}
	checks := []verify.AttestationCheck{
		{ID: "p/attestations/provenance", PredicateType: attest.SLSAProvenanceV1, Authorities: []verify.Authority{authority(t, "p/attestations/provenance/builder", builder)}},
		{ID: "p/attestations/sbom", PredicateType: attest.CycloneDX, Authorities: []verify.Authority{notation(t, "p/attestations/sbom/release", ca)}}, // the document's signature is a referrer of a referrer
	}
	live := verifier(t, registry.New(registry.Options{}))
	served := verifier(t, registry.New(registry.Options{Transport: rt}))
	for _, req := range []verify.Request{
		{Image: repo + ":v1", Authorities: authorities, Attestations: checks},
		{Image: host + "/app/multi:v2", Authorities: authorities[:1], Platforms: &verify.Platforms{OS: []string{"linux"}}},
		{Image: host + "/app/unsigned@" + unsigned.String(), Authorities: authorities[:1]},
	} {
		want, got := live.Verify(context.Background(), req), served.Verify(context.Background(), req)
		w, _ := json.Marshal(want)
		g, _ := json.Marshal(got)
		if string(w) != string(g) {
			t.Errorf("%s:\nlive   %s\nserved %s", req.Image, w, g)
		}
		if want.Error != nil {
			t.Errorf("%s: %v", req.Image, want.Error)
		}
		if len(req.Attestations) > 0 && len(got.Attestations) != len(req.Attestations) {
			t.Errorf("%s: served attestations %+v, want one per check", req.Image, got.Attestations)
		}
	}
	if r := served.Verify(context.Background(), verify.Request{Image: repo + ":v1", Authorities: authorities}); len(r.Signatures) != 3 {
		t.Errorf("served signatures %+v, want key, bundle and notation", r.Signatures)
	}
	if index.String() == "" {
		t.Fatal("no index")
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		t.Fatal(err)
	}
}

// A layout that cannot be served is refused with what to fix.
func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := layout.Serve(dir); err == nil {
		t.Fatal("served a directory without index.json")
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+
		"0000000000000000000000000000000000000000000000000000000000000000"+`","size":2,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := layout.Serve(dir); err == nil {
		t.Fatal("served a manifest without its blob")
	}
}

// Two registries with the same repository path stay apart in a layout.
func TestServeKeepsRegistriesApart(t *testing.T) {
	a, b := verifytest.Registry(t), verifytest.Registry(t)
	da, db := verifytest.PushImage(t, a+"/team/app:v1"), verifytest.PushImage(t, b+"/team/app:v1")
	dir := filepath.Join(t.TempDir(), "layout")
	if err := layout.Record(context.Background(), dir, references(t, a+"/team/app:v1", b+"/team/app:v1")); err != nil {
		t.Fatal(err)
	}
	rt, err := layout.Serve(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t, registry.New(registry.Options{Transport: rt}))
	for host, want := range map[string]string{a: da.String(), b: db.String()} {
		if r := v.Verify(context.Background(), verify.Request{Image: host + "/team/app:v1"}); r.Error != nil || r.Digest != want {
			t.Errorf("%s/team/app:v1 resolved to %s (%v), want %s", host, r.Digest, r.Error, want)
		}
	}
}
