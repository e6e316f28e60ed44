package e2e

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/e2e/stack"
)

// The public key lives in a Secret, as teams that rotate keys keep it.
func TestKeyFromASecret(t *testing.T) {
	ctx := need(t)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "release-key", Namespace: stack.SystemNamespace},
		Data:       map[string][]byte{"cosign.pub": []byte(suite.Cosign.PublicKey)},
	}
	if _, err := suite.Client.CoreV1().Secrets(stack.SystemNamespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ref, digest, err := suite.PushImage(ctx, "fromsecret/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.Cosign.Sign(ctx, suite.Registry+"/fromsecret/app@"+digest); err != nil {
		t.Fatal(err)
	}
	unsigned, _, err := suite.PushImage(ctx, "fromsecret/unsigned:v1")
	if err != nil {
		t.Fatal(err)
	}
	p := stack.ClusterPolicy("from-secret", []string{suite.Registry + "/fromsecret/**"}, "ci", "", "")
	authorities := []any{map[string]any{"name": "ci", "key": map[string]any{
		"secretRef": map[string]any{"namespace": stack.SystemNamespace, "name": "release-key"},
	}}}
	if err := unstructured.SetNestedSlice(p.Object, authorities, "spec", "authorities"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := createPod(ctx, newPod("key-from-secret", ref), true); err != nil {
		t.Fatalf("signed image denied: %v", err)
	}
	_, err = createPod(ctx, newPod("key-from-secret-unsigned", unsigned), true)
	wantDenied(t, err, "unsigned", "ClusterImagePolicy/from-secret")

	// A secretRef to a Secret that does not exist is refused on apply.
	missing := stack.ClusterPolicy("missing-secret", []string{suite.Registry + "/fromsecret/**"}, "ci", "", "")
	authorities[0].(map[string]any)["key"] = map[string]any{"secretRef": map[string]any{"namespace": stack.SystemNamespace, "name": "nope"}}
	if err := unstructured.SetNestedSlice(missing.Object, authorities, "spec", "authorities"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, missing); err == nil {
		t.Fatal("a policy whose key Secret does not exist was accepted")
	}
}
