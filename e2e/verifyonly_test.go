package e2e

import (
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"gatehouse.dev/gatehouse/e2e/stack"
)

// warnings collects the warnings the API server relays to a client.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.list, "\n")
}

// With pinDigest false (GitOps, verify only) the tag is still resolved and
// its digest verified, the pod is left as written, and the client is warned.
func TestVerifyOnlyPolicyWarnsAndDoesNotPin(t *testing.T) {
	ctx := need(t)
	ref, digest, err := suite.PushImage(ctx, "verifyonly/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.Cosign.Sign(ctx, suite.Registry+"/verifyonly/app@"+digest); err != nil {
		t.Fatal(err)
	}
	p := stack.ClusterPolicy("verify-only", []string{suite.Registry + "/verifyonly/**"}, "ci", suite.Cosign.PublicKey, "")
	if err := unstructured.SetNestedField(p.Object, false, "spec", "pinDigest"); err != nil {
		t.Fatal(err)
	}
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, ref); err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	cfg := rest.CopyConfig(suite.API.Config)
	cfg.WarningHandler = w
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	created, err := client.CoreV1().Pods(stack.AppNamespace).Create(ctx, newPod("verify-only", ref), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("signed image denied: %v", err)
	}
	if got := created.Spec.Containers[0].Image; got != ref {
		t.Errorf("image rewritten to %q; verify-only must leave %q", got, ref)
	}
	if !strings.Contains(w.all(), "not pinned") || !strings.Contains(w.all(), digest) {
		t.Errorf("warnings %q lack the not-pinned notice with digest %s", w.all(), digest)
	}
}
