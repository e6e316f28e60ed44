package verify_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

func hash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// cosign v3 signatures are found through the referrers API, and through the
// referrers tag on registries without it; a bundle of another key, or an
// attestation, does not count.
func TestVerifyBundles(t *testing.T) {
	for _, referrersAPI := range []bool{true, false} {
		label := map[bool]string{true: "referrers API", false: "tag fallback"}[referrersAPI]
		t.Run(label, func(t *testing.T) {
			srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(referrersAPI), ggcrregistry.Logger(log.New(io.Discard, "", 0))))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			ci, other := verifytest.NewKey(t), verifytest.NewKey(t)
			push := func(repo string) string {
				img, _ := random.Image(64, 1)
				img = mutate.MediaType(img, types.OCIManifestSchema1)
				ref, _ := name.ParseReference(host + "/" + repo + ":v1")
				if err := remote.Write(ref, img); err != nil {
					t.Fatal(err)
				}
				d, _ := img.Digest()
				return d.String()
			}
			signed, wrongKey, attested := push("app/signed"), push("app/wrongkey"), push("app/attested")
			for repo, d := range map[string]string{"app/signed": signed, "app/wrongkey": wrongKey, "app/attested": attested} {
				h := hash(t, d)
				switch repo {
				case "app/signed":
					verifytest.SignBundle(t, host+"/"+repo, h, ci)
				case "app/wrongkey":
					verifytest.SignBundle(t, host+"/"+repo, h, other)
				case "app/attested":
					b, err := verifytest.Bundle(ci, h, "https://slsa.dev/provenance/v1")
					if err != nil {
						t.Fatal(err)
					}
					if err := verifytest.AttachBundle(host+"/"+repo, h, b); err != nil {
						t.Fatal(err)
					}
				}
			}
			v := newVerifier(t, nil)
			a := authority(t, "p/ci", ci)
			for _, tc := range []struct {
				image      string
				wantSigned bool
			}{
				{image: host + "/app/signed:v1", wantSigned: true},
				{image: host + "/app/wrongkey:v1"},
				{image: host + "/app/attested:v1"},
			} {
				r := v.Verify(context.Background(), verify.Request{Image: tc.image, Authorities: []verify.Authority{a}})
				if r.Error != nil || r.SignedBy("p/ci") != tc.wantSigned || r.SignaturesFound != 1 {
					t.Errorf("%s: error %v signed %v found %d; want signed %v, 1 found", tc.image, r.Error, r.SignedBy("p/ci"), r.SignaturesFound, tc.wantSigned)
				}
				if tc.wantSigned && r.Signatures[0].Type != verify.TypeCosignBundle {
					t.Errorf("%s: signature type %q", tc.image, r.Signatures[0].Type)
				}
			}
		})
	}
}
