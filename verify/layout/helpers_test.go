package layout_test

import (
	"crypto/x509/pkix"
	"github.com/google/go-containerregistry/pkg/name"
	"testing"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

var releaseSubject = pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"example"}, CommonName: "release"}

func authority(t *testing.T, id string, k *verifytest.Key) verify.Authority {
	t.Helper()
	key, err := verify.ParseKey(k.PublicPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	return verify.Authority{ID: id, Key: key}
}

func notation(t *testing.T, id string, ca *verifytest.NotationCA) verify.Authority {
	t.Helper()
	n, err := verify.NewNotation(verify.NotationConfig{Stores: []verify.NotationStore{{Type: "ca", Name: "release", PEM: ca.PEM}},
		TrustedIdentities: []string{"x509.subject: C=US, ST=WA, O=example, CN=release"}})
	if err != nil {
		t.Fatal(err)
	}
	return verify.Authority{ID: id, Notation: n}
}

func verifier(t *testing.T, c *registry.Client) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Options{Registry: c})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func references(t *testing.T, refs ...string) []name.Reference {
	t.Helper()
	var out []name.Reference
	for _, s := range refs {
		ref, err := name.ParseReference(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ref)
	}
	return out
}
