package e2e

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/e2e/stack"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// An index whose arm64 image is unsigned: with multiArch: platforms a pod
// that can run on arm64 is denied, naming the platform; a pod held to amd64
// nodes is admitted.
func TestIndexWithAnUnsignedPlatformImage(t *testing.T) {
	ctx := need(t)
	ref := suite.Registry + "/multiarch/app:v1"
	_, children, err := verifytest.PushRandomIndex(ref, "linux/amd64", "linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.Cosign.Sign(ctx, suite.Registry+"/multiarch/app@"+children["linux/amd64"].String()); err != nil {
		t.Fatal(err)
	}
	p := stack.ClusterPolicy("multiarch", []string{suite.Registry + "/multiarch/**"}, "ci", suite.Cosign.PublicKey, "")
	if err := unstructured.SetNestedField(p.Object, "platforms", "spec", "multiArch"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, ref); err != nil {
		t.Fatal(err)
	}
	_, err = createPod(ctx, newPod("any-arch", ref), true)
	wantDenied(t, err, "unsigned", "platform image linux/arm64", children["linux/arm64"].String())
	onAMD64 := newPod("amd64-only", ref)
	onAMD64.Spec.NodeSelector = map[string]string{"kubernetes.io/arch": "amd64"}
	if _, err := createPod(ctx, onAMD64, true); err != nil {
		t.Fatalf("pod held to amd64 nodes denied: %v", err)
	}
}
