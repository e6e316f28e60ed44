package policy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// newKeyPEM returns a fresh ECDSA P-256 public key in PEM, the kind cosign
// generate-key-pair writes.
func newKeyPEM(t testing.TB) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pub)
}

func keyAuthority(name, pem string) v1alpha1.Authority {
	return v1alpha1.Authority{Name: name, Key: &v1alpha1.KeyAuthority{Data: pem}}
}

func globs(gs ...string) []v1alpha1.ImageGlob {
	out := make([]v1alpha1.ImageGlob, len(gs))
	for i, g := range gs {
		out[i] = v1alpha1.ImageGlob{Glob: g}
	}
	return out
}

func clusterPolicy(name string, spec v1alpha1.ImagePolicySpec) Object {
	return Object{Kind: v1alpha1.KindClusterImagePolicy, Name: name, Spec: spec}
}

func namespacedPolicy(ns, name string, spec v1alpha1.ImagePolicySpec) Object {
	return Object{Kind: v1alpha1.KindImagePolicy, Namespace: ns, Name: name, Spec: spec}
}

// validSpec is a spec that compiles: the given globs, one key authority "ci".
func validSpec(t testing.TB, gs ...string) v1alpha1.ImagePolicySpec {
	t.Helper()
	return v1alpha1.ImagePolicySpec{Images: globs(gs...), Authorities: []v1alpha1.Authority{keyAuthority("ci", newKeyPEM(t))}}
}

func mustCompile(t testing.TB, o Object) *Policy {
	t.Helper()
	p, err := Compile(o)
	if err != nil {
		t.Fatalf("Compile(%s): %v", o.ID(), err)
	}
	return p
}

// wantErrContaining fails unless err is non-nil and its message contains
// every one of want.
func wantErrContaining(t testing.TB, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func ids(ps []*Policy) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// compileCase is one policy to compile with a stand-in cluster, and the
// error it must fail with ("" for none).
type compileCase struct {
	name    string
	o       Object
	cluster SecretReader
	wantErr string
}

// runCompileCases compiles each case: a wanted error must contain wantErr;
// otherwise every authority must compile.
func runCompileCases(t *testing.T, tests []compileCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := CompileWith(context.Background(), tc.o, tc.cluster)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(p.Authorities) != len(tc.o.Spec.Authorities) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

// v1Digest is an image pushed to a test registry.
type v1Digest struct{ repo, digest string }

func (d v1Digest) hash(t testing.TB) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(d.digest)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
