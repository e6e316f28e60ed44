package verifytest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// InTotoStatement is the in-toto v0.1 statement cosign v2 attest writes:
// the image digest as subject, predicateType, predicate (JSON).
func InTotoStatement(repo string, subject v1.Hash, predicateType string, predicate []byte) []byte {
	return []byte(fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":%q,"subject":[{"name":%q,"digest":{%q:%q}}],"predicate":%s}`,
		predicateType, repo, subject.Algorithm, subject.Hex, predicate))
}

// DSSE signs payload as a DSSE envelope of payloadType with key.
func DSSE(t testing.TB, key *Key, payloadType string, payload []byte) []byte {
	t.Helper()
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
	sig, err := key.Signer.SignMessage(bytes.NewReader([]byte(pae)))
	if err != nil {
		t.Fatal(err)
	}
	env, err := json.Marshal(map[string]any{
		"payloadType": payloadType,
		"payload":     base64.StdEncoding.EncodeToString(payload),
		"signatures":  []map[string]string{{"keyid": "", "sig": base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// AttachAttestation appends envelope as a layer of the cosign v2
// attestation manifest of digest (tag sha256-<hex>.att).
func AttachAttestation(t testing.TB, repo string, digest v1.Hash, envelope []byte, predicateType string) {
	t.Helper()
	attachAttestation(t, repo, digest, envelope, map[string]string{"dev.cosignproject.cosign/signature": "", "predicateType": predicateType})
}

// AttachAnnotatedAttestation appends envelope as a layer with annotations
// (keyless material, predicateType) to the .att manifest of digest.
func AttachAnnotatedAttestation(t testing.TB, repo string, digest v1.Hash, envelope []byte, annotations map[string]string) {
	t.Helper()
	attachAttestation(t, repo, digest, envelope, annotations)
}

// attachAttestation appends envelope as a layer with annotations to the
// .att manifest of digest.
func attachAttestation(t testing.TB, repo string, digest v1.Hash, envelope []byte, annotations map[string]string) {
	t.Helper()
	tag, err := name.NewTag(repo + ":" + digest.Algorithm + "-" + digest.Hex + ".att")
	if err != nil {
		t.Fatal(err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	if existing, err := remote.Image(tag); err == nil {
		base = existing
	}
	layer := static.NewLayer(envelope, "application/vnd.dsse.envelope.v1+json")
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, Annotations: annotations})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
}

// Attest attests digest in repo the cosign v2 way (attest --key, no log).
func Attest(t testing.TB, repo string, digest v1.Hash, key *Key, predicateType string, predicate []byte) {
	t.Helper()
	env := DSSE(t, key, inTotoPayloadType, InTotoStatement(repo, digest, predicateType, predicate))
	AttachAttestation(t, repo, digest, env, predicateType)
}

// AttestBundle attests digest in repo the cosign v3 way: a sigstore bundle
// whose DSSE envelope holds the statement, attached as a referrer.
func AttestBundle(t testing.TB, repo string, digest v1.Hash, key *Key, predicateType string, predicate []byte) {
	t.Helper()
	env := DSSE(t, key, inTotoPayloadType, InTotoStatement(repo, digest, predicateType, predicate))
	b, err := bundleOf(key, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := attachBundle(repo, digest, b, predicateType); err != nil {
		t.Fatal(err)
	}
}

// AttestReferrer attests digest in repo with a DSSE envelope attached as a
// plain OCI referrer, as oras attach --artifact-type
// application/vnd.dsse.envelope.v1+json does.
func AttestReferrer(t testing.TB, repo string, digest v1.Hash, key *Key, predicateType string, predicate []byte) {
	t.Helper()
	env := DSSE(t, key, inTotoPayloadType, InTotoStatement(repo, digest, predicateType, predicate))
	if err := attachReferrer(repo, digest, env, "application/vnd.dsse.envelope.v1+json", nil); err != nil {
		t.Fatal(err)
	}
}

// AttachDocument attaches content as a plain OCI referrer of digest in repo
// with the given artifact type, as `oras attach --artifact-type` does, and
// returns the digest of the referrer manifest (what `notation sign` then
// signs).
func AttachDocument(t testing.TB, repo string, digest v1.Hash, content []byte, artifactType string) v1.Hash {
	t.Helper()
	h, err := attachReferrerDigest(repo, digest, content, artifactType, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
