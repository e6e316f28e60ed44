package e2e

import (
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/e2e/stack"
)

// Two of three release managers must sign, each with a key pair made by
// cosign: two signatures admit, one is a denial that says how many.
func TestThresholdTwoOfThree(t *testing.T) {
	ctx := need(t)
	var signers []*stack.Cosign
	var authorities []any
	for _, name := range []string{"alice", "bob", "carol"} {
		c, err := stack.NewCosign(ctx, suite.Env.Tools.Cosign, filepath.Join(suite.Env.Dir, "cosign-"+name))
		if err != nil {
			t.Fatal(err)
		}
		signers = append(signers, c)
		authorities = append(authorities, map[string]any{"name": name, "key": map[string]any{"data": c.PublicKey}})
	}
	p := stack.ClusterPolicy("two-of-three", []string{suite.Registry + "/release/**"}, "unused", suite.Cosign.PublicKey, "")
	if err := unstructured.SetNestedSlice(p.Object, authorities, "spec", "authorities"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(p.Object, int64(2), "spec", "threshold"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	image := func(name string, by ...*stack.Cosign) string {
		ref, digest, err := suite.PushImage(ctx, "release/"+name+":v1")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range by {
			if err := c.Sign(ctx, suite.Registry+"/release/"+name+"@"+digest); err != nil {
				t.Fatal(err)
			}
		}
		return ref
	}
	twice := image("twice", signers[0], signers[2])
	once := image("once", signers[1])
	if err := suite.WaitPolicy(ctx, once); err != nil {
		t.Fatal(err)
	}
	if _, err := createPod(ctx, newPod("two-signers", twice), true); err != nil {
		t.Fatalf("signed by 2 of 3, denied: %v", err)
	}
	_, err := createPod(ctx, newPod("one-signer", once), true)
	wantDenied(t, err, "untrusted-signer", "2 of its 3 authorities (1 found)", `"alice"`, `"carol"`)
}
