package e2e

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/e2e/stack"
	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// A running pod, admitted under a policy, is judged again when the policy
// changes: trusting another key now, gatehouse reports the pod
// non-compliant (a NonCompliant Event and the gauge) and leaves it running.
func TestRevalidation(t *testing.T) {
	ctx := need(t)
	ref, digest, err := suite.PushImage(ctx, "reval/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.Cosign.Sign(ctx, suite.Registry+"/reval/app@"+digest); err != nil {
		t.Fatal(err)
	}
	p := stack.ClusterPolicy("reval", []string{suite.Registry + "/reval/**"}, "ci", suite.Cosign.PublicKey, "")
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := suite.WaitPolicy(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := createPod(ctx, newPod("reval", ref), false); err != nil {
		t.Fatalf("signed pod denied: %v", err)
	}
	// The release key is replaced: the running pod's signature no longer counts.
	cur, err := suite.Dynamic.Resource(policy.ClusterImagePolicies).Get(ctx, "reval", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	authorities := []any{map[string]any{"name": "ci", "key": map[string]any{"data": suite.Cosign3.PublicKey}}}
	if err := unstructured.SetNestedSlice(cur.Object, authorities, "spec", "authorities"); err != nil {
		t.Fatal(err)
	}
	if _, err := suite.Dynamic.Resource(policy.ClusterImagePolicies).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	gauge := `gatehouse_noncompliant_pods{decision="deny",policy="ClusterImagePolicy/reval",reason="untrusted-signer"}`
	var event bool
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		list, err := suite.Client.CoreV1().Events(stack.AppNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list.Items {
			event = event || (e.InvolvedObject.Name == "reval" && e.Reason == "NonCompliant" && e.Type == "Warning")
		}
		if event && scrape(ctx, t, gauge) != "" {
			break
		}
	}
	if !event || scrape(ctx, t, gauge) == "" {
		t.Fatalf("after the key change: NonCompliant event %v, gauge %q", event, scrape(ctx, t, gauge))
	}
	if _, err := suite.Client.CoreV1().Pods(stack.AppNamespace).Get(ctx, "reval", metav1.GetOptions{}); err != nil {
		t.Fatalf("the non-compliant pod was not left running: %v", err)
	}
	// This replica leads: it holds the Lease and says so.
	if line := scrape(ctx, t, "gatehouse_leader"); line != "gatehouse_leader 1" {
		t.Errorf("/metrics: %q, want gatehouse_leader 1", line)
	}
	if l, err := suite.Client.CoordinationV1().Leases(stack.SystemNamespace).Get(ctx, "gatehouse-leader", metav1.GetOptions{}); err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		t.Errorf("leader lease: %+v, %v", l, err)
	}
	// The policy's status says the new generation serves, and names the pod.
	var st v1alpha1.PolicyStatus
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		u, err := suite.Dynamic.Resource(policy.ClusterImagePolicies).Get(ctx, "reval", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := u.Object["status"].(map[string]any)
		st = v1alpha1.PolicyStatus{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &st); err != nil {
			t.Fatal(err)
		}
		ready, compliant := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady), meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionCompliant)
		if st.ObservedGeneration == u.GetGeneration() && ready != nil && ready.Status == metav1.ConditionTrue && compliant != nil &&
			compliant.Status == metav1.ConditionFalse && strings.Contains(compliant.Message, stack.AppNamespace+"/reval") &&
			st.NonCompliantPods != nil && *st.NonCompliantPods == 1 {
			return
		}
	}
	t.Fatalf("status of ClusterImagePolicy/reval: %+v", st)
}
