package verifytest

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	intoto "github.com/in-toto/attestation/go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Media and predicate types of cosign v3 signatures.
const (
	BundleMediaType   = "application/vnd.dev.sigstore.bundle.v0.3+json"
	SignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	inTotoPayloadType = "application/vnd.in-toto+json"
)

// Bundle makes what cosign v3 `sign --key` makes without a transparency
// log: a v0.3 bundle whose DSSE envelope holds an in-toto statement with
// subject digest and the given predicate type, signed with key.
func Bundle(key *Key, subject v1.Hash, predicateType string) ([]byte, error) {
	payload, err := statement(subject, predicateType)
	if err != nil {
		return nil, err
	}
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(inTotoPayloadType), inTotoPayloadType, len(payload), payload)
	sig, err := key.Signer.SignMessage(bytes.NewReader([]byte(pae)))
	if err != nil {
		return nil, err
	}
	env, err := json.Marshal(map[string]any{"payloadType": inTotoPayloadType, "payload": payload, "signatures": []map[string][]byte{{"sig": sig}}})
	if err != nil {
		return nil, err
	}
	return bundleOf(key, env)
}

// bundleOf wraps a DSSE envelope (JSON) signed with key in a v0.3 bundle
// naming the key by its hint, as cosign v3 writes without a log.
func bundleOf(key *Key, envelope []byte) ([]byte, error) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
		Signatures  []struct {
			Sig []byte `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(key.PublicPEM))
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	hint := sha256.Sum256(der)
	var sigs []*protodsse.Signature
	for _, s := range env.Signatures {
		sigs = append(sigs, &protodsse.Signature{Sig: s.Sig})
	}
	return protojson.Marshal(&protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{Content: &protobundle.VerificationMaterial_PublicKey{
			PublicKey: &protocommon.PublicKeyIdentifier{Hint: base64.StdEncoding.EncodeToString(hint[:])},
		}},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: env.Payload, PayloadType: env.PayloadType, Signatures: sigs,
		}},
	})
}

// statement is the in-toto statement cosign v3 signs: subject the image
// digest, the given predicate type, an empty predicate.
func statement(subject v1.Hash, predicateType string) ([]byte, error) {
	return protojson.Marshal(&intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Digest: map[string]string{subject.Algorithm: subject.Hex}}},
		PredicateType: predicateType,
		Predicate:     &structpb.Struct{},
	})
}

// referrer is an OCI manifest with the top-level artifactType that
// go-containerregistry's v1.Manifest lacks.
type referrer struct {
	v1.Manifest
	ArtifactType string `json:"artifactType,omitempty"`
}

func (r referrer) RawManifest() ([]byte, error)        { return json.Marshal(r) }
func (r referrer) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// AttachBundle pushes bundle as cosign v3 does: an OCI manifest with the
// empty config, the bundle as its one layer and the image as its subject,
// found through the referrers API or the sha256-<hex> tag fallback.
func AttachBundle(repo string, subject v1.Hash, bundle []byte) error {
	return attachBundle(repo, subject, bundle, SignPredicateType)
}

// attachBundle is AttachBundle with the predicate type cosign v3 annotates
// the referrer with.
func attachBundle(repo string, subject v1.Hash, bundle []byte, predicateType string) error {
	return attachReferrer(repo, subject, bundle, BundleMediaType, map[string]string{
		"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": predicateType,
	})
}

// attachReferrer pushes blob as the one layer (of mediaType, also the
// artifactType) of an OCI manifest with the empty config and the image
// subject in repo as its subject, found through the referrers API or the
// tag fallback.
func attachReferrer(repo string, subject v1.Hash, blob []byte, mediaType string, annotations map[string]string) error {
	_, err := attachReferrerDigest(repo, subject, blob, mediaType, annotations)
	return err
}

// attachReferrerDigest is attachReferrer, returning the referrer's digest.
func attachReferrerDigest(repo string, subject v1.Hash, blob []byte, mediaType string, annotations map[string]string) (v1.Hash, error) {
	img, err := name.NewDigest(repo + "@" + subject.String())
	if err != nil {
		return v1.Hash{}, err
	}
	head, err := remote.Head(img)
	if err != nil {
		return v1.Hash{}, err
	}
	config := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	layer := static.NewLayer(blob, types.MediaType(mediaType))
	for _, l := range []v1.Layer{config, layer} {
		if err := remote.WriteLayer(img.Context(), l); err != nil {
			return v1.Hash{}, err
		}
	}
	cd, _ := config.Digest()
	ld, _ := layer.Digest()
	m := referrer{Manifest: v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", ArtifactType: mediaType, Digest: cd, Size: 2},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(mediaType), Digest: ld, Size: int64(len(blob))}},
		Subject:       &v1.Descriptor{MediaType: head.MediaType, Digest: head.Digest, Size: head.Size},
		Annotations:   annotations,
	}, ArtifactType: mediaType}
	raw, err := m.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Hash{}, err
	}
	return h, remote.Put(img.Context().Digest(h.String()), m)
}

// SignBundle signs digest in repo the cosign v3 way.
func SignBundle(t testing.TB, repo string, digest v1.Hash, key *Key) {
	t.Helper()
	b, err := Bundle(key, digest, SignPredicateType)
	if err != nil {
		t.Fatal(err)
	}
	if err := AttachBundle(repo, digest, b); err != nil {
		t.Fatal(err)
	}
}
