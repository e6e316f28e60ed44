package status_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/policy/status"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

func object(kind, namespace, name string, generation int64) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}
	u.SetAPIVersion(v1alpha1.Group + "/" + v1alpha1.Version)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetGeneration(generation)
	return u
}

func spec(pem string) v1alpha1.ImagePolicySpec {
	return v1alpha1.ImagePolicySpec{Images: []v1alpha1.ImageGlob{{Glob: "registry.example/**"}},
		Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: pem}}}}
}

type fixture struct {
	client *dynamicfake.FakeDynamicClient
	store  *policy.Store
	writer *status.Writer
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		policy.ClusterImagePolicies: "ClusterImagePolicyList", policy.ImagePolicies: "ImagePolicyList"}, objs...)
	store := policy.NewStore()
	return &fixture{client: client, store: store, writer: status.New(client, store, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

func (f *fixture) apply(t *testing.T, o policy.Object) error {
	t.Helper()
	o.Source = policy.SourceCluster
	return f.store.Apply(o)
}

func (f *fixture) status(t *testing.T, gvr schema.GroupVersionResource, namespace, name string) (v1alpha1.PolicyStatus, bool) {
	t.Helper()
	u, err := f.client.Resource(gvr).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := u.Object["status"].(map[string]any)
	if !ok {
		return v1alpha1.PolicyStatus{}, false
	}
	var s v1alpha1.PolicyStatus
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s, true
}

func (f *fixture) statusWrites() int {
	n := 0
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func condition(s v1alpha1.PolicyStatus, typ string) metav1.Condition {
	for _, c := range s.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

// A loaded policy is Ready, a refused one is not and says why; an object
// gatehouse has not loaded yet gets no status; the revalidation pass sets
// Compliant and the count; an unchanged status is not written again.
func TestSync(t *testing.T) {
	key := verifytest.NewKey(t)
	f := newFixture(t,
		object(v1alpha1.KindClusterImagePolicy, "", "good", 2),
		object(v1alpha1.KindClusterImagePolicy, "", "bad", 1),
		object(v1alpha1.KindClusterImagePolicy, "", "unloaded", 1),
		object(v1alpha1.KindImagePolicy, "team", "own", 1),
	)
	if err := f.apply(t, policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "good", Generation: 2, Spec: spec(key.PublicPEM)}); err != nil {
		t.Fatal(err)
	}
	if err := f.apply(t, policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "bad", Generation: 1, Spec: spec("not a key")}); err == nil {
		t.Fatal("a policy with a broken key loaded")
	}
	if err := f.apply(t, policy.Object{Kind: v1alpha1.KindImagePolicy, Namespace: "team", Name: "own", Generation: 1, Spec: spec(key.PublicPEM)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.writer.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	good, _ := f.status(t, policy.ClusterImagePolicies, "", "good")
	if c := condition(good, v1alpha1.ConditionReady); c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonLoaded || good.ObservedGeneration != 2 || c.ObservedGeneration != 2 {
		t.Errorf("good: %+v", good)
	}
	if good.NonCompliantPods != nil || condition(good, v1alpha1.ConditionCompliant).Type != "" {
		t.Errorf("good has a compliance before any revalidation: %+v", good)
	}
	bad, _ := f.status(t, policy.ClusterImagePolicies, "", "bad")
	if c := condition(bad, v1alpha1.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonRefused ||
		!strings.Contains(c.Message, "Generation 1 was refused: ") || !strings.Contains(c.Message, "ci") {
		t.Errorf("bad: %+v", bad)
	}
	if s, ok := f.status(t, policy.ClusterImagePolicies, "", "unloaded"); ok {
		t.Errorf("a policy gatehouse has not loaded has a status: %+v", s)
	}
	if own, _ := f.status(t, policy.ImagePolicies, "team", "own"); condition(own, v1alpha1.ConditionReady).Status != metav1.ConditionTrue {
		t.Errorf("own: %+v", own)
	}
	if n := f.statusWrites(); n != 3 {
		t.Errorf("%d status writes, want 3", n)
	}

	pods := []string{"team/a", "team/b", "team/c", "team/d", "team/e", "team/f"}
	f.writer.Revalidated(status.Pass{End: time.Now(), Policies: []string{"ClusterImagePolicy/good", "ImagePolicy/team/own"},
		Pods: map[string][]string{"ClusterImagePolicy/good": pods}})
	if err := f.writer.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	good, _ = f.status(t, policy.ClusterImagePolicies, "", "good")
	c := condition(good, v1alpha1.ConditionCompliant)
	if good.NonCompliantPods == nil || *good.NonCompliantPods != 6 || good.LastRevalidationTime == nil || c.Status != metav1.ConditionFalse ||
		c.Reason != v1alpha1.ReasonNonCompliantPods || !strings.Contains(c.Message, "6 running pods would not be admitted now: team/a, team/b, team/c, team/d, team/e and 1 more.") {
		t.Errorf("good after revalidation: %+v", good)
	}
	own, _ := f.status(t, policy.ImagePolicies, "team", "own")
	if own.NonCompliantPods == nil || *own.NonCompliantPods != 0 || condition(own, v1alpha1.ConditionCompliant).Status != metav1.ConditionTrue {
		t.Errorf("own after revalidation: %+v", own)
	}
	// The refused policy never served: the pass did not judge by it.
	if bad, _ := f.status(t, policy.ClusterImagePolicies, "", "bad"); bad.NonCompliantPods != nil || condition(bad, v1alpha1.ConditionCompliant).Type != "" {
		t.Errorf("a policy the pass did not judge by has a compliance: %+v", bad)
	}
	writes := f.statusWrites()
	if err := f.writer.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.statusWrites(); n != writes {
		t.Errorf("nothing changed, yet %d statuses were written again", n-writes)
	}
}

// Conditions keep their transition time while their status stays, and take
// a new one when it changes.
func TestDesiredTransitions(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	id := "ClusterImagePolicy/p"
	s := status.Desired(v1alpha1.PolicyStatus{}, id, policy.State{Generation: 1}, nil, t0)
	s = status.Desired(s, id, policy.State{Generation: 2}, nil, t0.Add(time.Hour))
	if c := condition(s, v1alpha1.ConditionReady); !c.LastTransitionTime.Time.Equal(t0) || c.ObservedGeneration != 2 || s.ObservedGeneration != 2 {
		t.Errorf("a new generation that loads again: %+v", c)
	}
	s = status.Desired(s, id, policy.State{Generation: 3, Err: errTest}, nil, t0.Add(2*time.Hour))
	if c := condition(s, v1alpha1.ConditionReady); !c.LastTransitionTime.Time.Equal(t0.Add(2*time.Hour)) || c.Status != metav1.ConditionFalse {
		t.Errorf("refused: %+v", c)
	}
	one := &status.Pass{End: t0, Policies: []string{id}, Pods: map[string][]string{id: {"ns/only"}}}
	s = status.Desired(s, id, policy.State{Generation: 3, Err: errTest}, one, t0)
	if c := condition(s, v1alpha1.ConditionCompliant); c.Message != "1 running pod would not be admitted now: ns/only. They keep running; their NonCompliant Events say why." {
		t.Errorf("one pod: %q", c.Message)
	}
	// No pass yet in this term (a new leader): the compliance stays as the
	// last leader wrote it.
	if kept := status.Desired(s, id, policy.State{Generation: 3, Err: errTest}, nil, t0); kept.NonCompliantPods == nil || condition(kept, v1alpha1.ConditionCompliant).Type == "" {
		t.Errorf("a new term without a pass dropped the compliance: %+v", kept)
	}
	// A pass that did not judge by the policy (deleted and made anew since)
	// takes the compliance away rather than reporting a stale one.
	s = status.Desired(s, id, policy.State{Generation: 4}, &status.Pass{End: t0, Policies: []string{"ClusterImagePolicy/other"}}, t0)
	if s.NonCompliantPods != nil || s.LastRevalidationTime != nil || condition(s, v1alpha1.ConditionCompliant).Type != "" {
		t.Errorf("compliance from a pass that did not judge by the policy: %+v", s)
	}
}

// Run writes again when a policy goes back to the revision that serves
// after a refused one: nothing new is published, yet the status must
// leave Refused.
func TestRunAfterRevert(t *testing.T) {
	key := verifytest.NewKey(t)
	f := newFixture(t, object(v1alpha1.KindClusterImagePolicy, "", "p", 3))
	apply := func(gen int64, pem string) {
		_ = f.apply(t, policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "p", Generation: gen, Spec: spec(pem)})
	}
	wait := func(what string, ok func(v1alpha1.PolicyStatus) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			s, _ := f.status(t, policy.ClusterImagePolicies, "", "p")
			if ok(s) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v", what, s)
			}
		}
	}
	apply(1, key.PublicPEM)
	apply(2, "not a key")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.writer.Run(ctx, 10*time.Millisecond)
	wait("refused", func(s v1alpha1.PolicyStatus) bool {
		return condition(s, v1alpha1.ConditionReady).Reason == v1alpha1.ReasonRefused
	})
	apply(3, key.PublicPEM) // the revert: the serving revision again
	wait("after the revert", func(s v1alpha1.PolicyStatus) bool {
		return condition(s, v1alpha1.ConditionReady).Status == metav1.ConditionTrue && s.ObservedGeneration == 3
	})
}

var errTest = errString("broken")

type errString string

func (e errString) Error() string { return string(e) }
