package verify_test

import (
	"context"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

func authority(t *testing.T, id string, k *verifytest.Key) verify.Authority {
	t.Helper()
	key, err := verify.ParseKey(k.PublicPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	return verify.Authority{ID: id, Key: key}
}

func newVerifier(t *testing.T, cache *verify.Cache) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{}), Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	host := verifytest.Registry(t)
	ci, other := verifytest.NewKey(t), verifytest.NewKey(t)
	signed := verifytest.PushImage(t, host+"/app/signed:v1")
	verifytest.Sign(t, host+"/app/signed", signed, ci, verifytest.Payload(host+"/app/signed", signed))
	unsigned := verifytest.PushImage(t, host+"/app/unsigned:v1")
	wrongKey := verifytest.PushImage(t, host+"/app/wrongkey:v1")
	verifytest.Sign(t, host+"/app/wrongkey", wrongKey, other, verifytest.Payload(host+"/app/wrongkey", wrongKey))
	// A valid signature of another image, copied next to this one: a replay.
	replayed := verifytest.PushImage(t, host+"/app/replayed:v1")
	verifytest.Sign(t, host+"/app/replayed", replayed, ci, verifytest.Payload(host+"/app/signed", signed))

	ciAuth := authority(t, "p/ci", ci)
	tests := []struct {
		name       string
		image      string
		wantDigest string
		wantSigned bool
		wantFound  int
		wantReason verify.Reason
	}{
		{name: "signed tag resolves and verifies", image: host + "/app/signed:v1", wantDigest: signed.String(), wantSigned: true, wantFound: 1},
		{name: "signed digest verifies", image: host + "/app/signed@" + signed.String(), wantDigest: signed.String(), wantSigned: true, wantFound: 1},
		{name: "tag and digest: the digest counts", image: host + "/app/signed:whatever@" + signed.String(), wantDigest: signed.String(), wantSigned: true, wantFound: 1},
		{name: "unsigned", image: host + "/app/unsigned:v1", wantDigest: unsigned.String()},
		{name: "signed by another key", image: host + "/app/wrongkey:v1", wantDigest: wrongKey.String(), wantFound: 1},
		{name: "replayed signature of another digest", image: host + "/app/replayed:v1", wantDigest: replayed.String(), wantFound: 1},
		{name: "missing tag", image: host + "/app/signed:nope", wantReason: verify.ReasonImageNotFound},
		{name: "missing digest", image: host + "/app/signed@sha256:" + "0000000000000000000000000000000000000000000000000000000000000000", wantReason: verify.ReasonImageNotFound},
		{name: "malformed reference", image: host + "/App/UPPER:v1", wantReason: verify.ReasonBadRequest},
		{name: "short digest", image: host + "/app/signed@sha256:abc", wantReason: verify.ReasonBadRequest},
	}
	v := newVerifier(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := v.Verify(context.Background(), verify.Request{Image: tc.image, Authorities: []verify.Authority{ciAuth}})
			if tc.wantReason != "" {
				if r.Error == nil || r.Error.Reason != tc.wantReason {
					t.Fatalf("error = %v, want reason %s", r.Error, tc.wantReason)
				}
				return
			}
			if r.Error != nil {
				t.Fatalf("unexpected error %v", r.Error)
			}
			if r.Digest != tc.wantDigest || r.SignedBy("p/ci") != tc.wantSigned || r.SignaturesFound != tc.wantFound {
				t.Errorf("got digest %s signed %v found %d; want %s %v %d", r.Digest, r.SignedBy("p/ci"), r.SignaturesFound, tc.wantDigest, tc.wantSigned, tc.wantFound)
			}
		})
	}
}

func TestVerifyCachesByDigestNotTag(t *testing.T) {
	host := verifytest.Registry(t)
	k := verifytest.NewKey(t)
	d := verifytest.PushImage(t, host+"/app/x:v1")
	verifytest.Sign(t, host+"/app/x", d, k, verifytest.Payload(host+"/app/x", d))
	v := newVerifier(t, verify.NewCache(10, time.Minute, time.Minute))
	req := verify.Request{Image: host + "/app/x:v1", Authorities: []verify.Authority{authority(t, "p/ci", k)}}
	if r := v.Verify(context.Background(), req); r.Cached || !r.SignedBy("p/ci") {
		t.Fatalf("first: cached=%v signed=%v", r.Cached, r.SignedBy("p/ci"))
	}
	if r := v.Verify(context.Background(), req); !r.Cached || !r.SignedBy("p/ci") {
		t.Fatalf("second: cached=%v signed=%v", r.Cached, r.SignedBy("p/ci"))
	}
	// Re-point the tag at an unsigned image: the cache must not answer for it.
	moved := verifytest.PushImage(t, host+"/app/x:v1")
	r := v.Verify(context.Background(), req)
	if r.Digest != moved.String() || r.SignedBy("p/ci") || r.Cached {
		t.Fatalf("after re-pointing the tag: digest %s signed %v cached %v", r.Digest, r.SignedBy("p/ci"), r.Cached)
	}
	// Another authority set is another key.
	other := verify.Request{Image: host + "/app/x@" + d.String(), Authorities: []verify.Authority{authority(t, "p/other", verifytest.NewKey(t))}}
	if r := v.Verify(context.Background(), other); r.Cached || r.SignedBy("p/other") {
		t.Fatalf("other authorities: cached=%v signed=%v", r.Cached, r.SignedBy("p/other"))
	}
}

func TestParseKeyRefusesGarbage(t *testing.T) {
	for _, tc := range []struct{ name, pem, hash string }{
		{name: "not PEM", pem: "hello"},
		{name: "private key", pem: "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"},
		{name: "unknown hash", pem: verifytest.NewKey(t).PublicPEM, hash: "md5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := verify.ParseKey(tc.pem, tc.hash); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
