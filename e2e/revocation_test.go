package e2e

import (
	"crypto/x509/pkix"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/e2e/stack"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// A release key was compromised: its certificate is on the intermediate
// CA's CRL, published in a Secret. An image the real notation CLI signed
// with it is denied, naming the revoked certificate; one signed with the
// re-issued certificate of the same subject is admitted. Nothing is fetched
// from a CRL distribution point.
func TestNotationRevocation(t *testing.T) {
	ctx := need(t)
	subject := pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"example"}, CommonName: "e2e-release"}
	root := verifytest.NewNotationCA(t, "e2e-release-root")
	inter := root.Intermediate(t, "e2e-release-intermediate")
	compromised := inter.Signer(t, subject, time.Now().Add(24*time.Hour))
	current := inter.Signer(t, subject, time.Now().Add(24*time.Hour))
	for name, s := range map[string]*verifytest.NotationSigner{"compromised": compromised, "current": current} {
		if err := suite.Notation.AddKey(name, s.KeyPEM(t), s.ChainPEM()); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(repo, key string) string {
		ref, digest, err := stack.PushImageTo(ctx, suite.Zot, repo+":v1")
		if err != nil {
			t.Fatal(err)
		}
		if err := suite.Notation.Sign(ctx, suite.Zot+"/"+repo+"@"+digest, "jws", "--key", key); err != nil {
			t.Fatal(err)
		}
		return ref
	}
	revoked := sign("revocation/old", "compromised")
	good := sign("revocation/new", "current")

	now := time.Now()
	crls := root.CRL(t, now.Add(-time.Minute), now.Add(time.Hour)) +
		inter.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), verifytest.Revoked(compromised.Cert, now.Add(-time.Minute), 1))
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "release-crl", Namespace: stack.SystemNamespace},
		Data:       map[string][]byte{"ca.crl": []byte(crls)},
	}
	if _, err := suite.Client.CoreV1().Secrets(stack.SystemNamespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := stack.ClusterPolicy("notation-revocation", []string{suite.Zot + "/revocation/**"}, "unused", "", "")
	authorities := []any{map[string]any{"name": "release", "notation": map[string]any{
		"trustStores":       []any{map[string]any{"type": "ca", "name": "e2e-release", "certificates": root.PEM}},
		"trustedIdentities": []any{"x509.subject: C=US, ST=WA, O=example, CN=e2e-release"},
		"level":             "permissive", // revocation is enforced whenever CRLs are given
		"crls":              []any{map[string]any{"secretRef": map[string]any{"namespace": stack.SystemNamespace, "name": "release-crl", "key": "ca.crl"}}},
	}}}
	if err := unstructured.SetNestedSlice(p.Object, authorities, "spec", "authorities"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	if _, err := createPod(ctx, newPod("revocation-current", good), true); err != nil {
		t.Errorf("image signed with the current certificate denied: %v", err)
	}
	_, err := createPod(ctx, newPod("revocation-compromised", revoked), true)
	wantDenied(t, err, "untrusted-signer", "ClusterImagePolicy/notation-revocation",
		`its signature was refused: certificate "CN=e2e-release,O=example,ST=WA,C=US" (serial `+compromised.Cert.SerialNumber.Text(16)+`) was revoked at`,
		`(keyCompromise), per the CRL of "CN=e2e-release-intermediate,O=example,C=US"`,
		"Fix: sign again with a certificate the CRLs do not revoke")
}
