// Package status writes what gatehouse made of each policy resource into
// the resource's status: whether its latest generation loaded (condition
// Ready) and whether running pods fail it (condition Compliant and
// nonCompliantPods, from the last revalidation pass). `kubectl get cip`
// then shows both.
//
// Every replica writes the same status from the same inputs; a write is
// made only when the status differs, and a conflict is retried on the next
// check.
package status

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// Timing of Run.
const (
	// Check is how often Run should look for a change to write.
	Check = 5 * time.Second
	// Resync is how often Run compares every status even without a change,
	// mending statuses that someone else edited.
	Resync = 5 * time.Minute
)

// maxPods is how many non-compliant pods the Compliant message names.
const maxPods = 5

// maxMessage bounds a condition message (the CRD allows 32768).
const maxMessage = 4096

// Pass is what a revalidation pass found.
type Pass struct {
	// End is when the pass ended.
	End time.Time
	// Policies are the IDs of the policies the pass judged by; others get
	// no compliance (a policy loaded since, or never loaded).
	Policies []string
	// Pods are the non-compliant pods ("namespace/name") by the ID of each
	// policy they fail.
	Pods map[string][]string
}

// Writer keeps the status of the policy resources in the cluster.
type Writer struct {
	client dynamic.Interface
	store  *policy.Store
	log    *slog.Logger

	mu     sync.Mutex
	pass   *Pass
	passes uint64
}

// New returns a Writer of the statuses of the cluster's policies, as store
// loaded them.
func New(client dynamic.Interface, store *policy.Store, log *slog.Logger) *Writer {
	return &Writer{client: client, store: store, log: log}
}

// Revalidated records what a revalidation pass found; the next check
// writes it.
func (w *Writer) Revalidated(p Pass) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pass = &p
	w.passes++
}

// Run writes the statuses whenever the policies or the revalidation
// results change, looking every check, and every Resync, until ctx ends.
func (w *Writer) Run(ctx context.Context, check time.Duration) {
	// A pass from an earlier term (this replica led before) is stale:
	// start from the statuses as the cluster has them.
	w.forgetPass()
	defer w.forgetPass()
	t := time.NewTicker(check)
	defer t.Stop()
	var written [2]uint64
	var last time.Time
	for {
		now := w.fingerprint()
		if now != written || time.Since(last) >= Resync {
			if err := w.Sync(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				w.log.Warn("writing the status of policies; retrying", "error", err)
			} else {
				written, last = now, time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Writer) forgetPass() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pass = nil
}

// fingerprint changes whenever a status may have to change: a policy was
// applied (even to the revision already serving, after a refused one),
// refused or deleted, or a pass ended.
func (w *Writer) fingerprint() [2]uint64 {
	w.mu.Lock()
	passes := w.passes
	w.mu.Unlock()
	return [2]uint64{w.store.Changes(), passes}
}

// kinds are the policy resources and the kind each serves.
var kinds = []struct {
	gvr  schema.GroupVersionResource
	kind string
}{
	{policy.ClusterImagePolicies, v1alpha1.KindClusterImagePolicy},
	{policy.ImagePolicies, v1alpha1.KindImagePolicy},
}

// Sync compares the status of every policy resource with what the store
// and the last revalidation pass say, and writes those that differ.
func (w *Writer) Sync(ctx context.Context) error {
	w.mu.Lock()
	pass := w.pass
	w.mu.Unlock()
	var errs []string
	for _, k := range kinds {
		list, err := w.client.Resource(k.gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing %s: %w", k.gvr.Resource, err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			id := policy.Object{Kind: k.kind, Namespace: u.GetNamespace(), Name: u.GetName()}.ID()
			st, ok := w.store.State(policy.SourceCluster, id)
			if !ok {
				continue // not loaded yet: the load changes the fingerprint
			}
			if err := w.write(ctx, k.gvr, u, Desired(current(u), id, st, pass, time.Now())); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", id, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// current reads the status u carries; a status that does not decode counts
// as empty and is overwritten.
func current(u *unstructured.Unstructured) v1alpha1.PolicyStatus {
	var s v1alpha1.PolicyStatus
	raw, ok := u.Object["status"].(map[string]any)
	if !ok || runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &s) != nil {
		return v1alpha1.PolicyStatus{}
	}
	return s
}

func (w *Writer) write(ctx context.Context, gvr schema.GroupVersionResource, u *unstructured.Unstructured, want v1alpha1.PolicyStatus) error {
	if equality.Semantic.DeepEqual(current(u), want) {
		return nil
	}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&want)
	if err != nil {
		return err
	}
	u = u.DeepCopy()
	u.Object["status"] = raw
	_, err = w.client.Resource(gvr).Namespace(u.GetNamespace()).UpdateStatus(ctx, u, metav1.UpdateOptions{FieldManager: "gatehouse"})
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile
	}
	return err
}

// Desired is the status of the policy with the given ID, starting from its
// current status cur (whose conditions keep their transition times when
// their status stays), given the store's state of it and the last
// revalidation pass (nil: none yet, and the compliance fields stay as they
// are). now stamps new transitions.
func Desired(cur v1alpha1.PolicyStatus, id string, st policy.State, pass *Pass, now time.Time) v1alpha1.PolicyStatus {
	out := v1alpha1.PolicyStatus{ObservedGeneration: st.Generation, Conditions: append([]metav1.Condition(nil), cur.Conditions...),
		NonCompliantPods: cur.NonCompliantPods, LastRevalidationTime: cur.LastRevalidationTime}
	stamp := metav1.NewTime(now.Truncate(time.Second))
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonLoaded,
		ObservedGeneration: st.Generation, LastTransitionTime: stamp,
		Message: fmt.Sprintf("Generation %d compiled; gatehouse enforces it.", st.Generation)}
	if st.Err != nil {
		ready.Status, ready.Reason = metav1.ConditionFalse, v1alpha1.ReasonRefused
		ready.Message = clip(fmt.Sprintf("Generation %d was refused: %v. The previous good generation, if any, keeps serving; fix the policy and apply it again.", st.Generation, st.Err))
	}
	meta.SetStatusCondition(&out.Conditions, ready)
	if pass == nil {
		return out // no pass in this term yet: keep what the last one said
	}
	if !slices.Contains(pass.Policies, id) { // the pass did not judge by this policy
		meta.RemoveStatusCondition(&out.Conditions, v1alpha1.ConditionCompliant)
		out.NonCompliantPods, out.LastRevalidationTime = nil, nil
		return out
	}
	pods := pass.Pods[id]
	n := int32(len(pods))
	end := metav1.NewTime(pass.End.Truncate(time.Second))
	out.NonCompliantPods, out.LastRevalidationTime = &n, &end
	compliant := metav1.Condition{Type: v1alpha1.ConditionCompliant, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAllCompliant,
		ObservedGeneration: st.Generation, LastTransitionTime: stamp,
		Message: "No running pod fails this policy."}
	if n > 0 {
		names := pods[:min(len(pods), maxPods)]
		more := ""
		if len(pods) > maxPods {
			more = fmt.Sprintf(" and %d more", len(pods)-maxPods)
		}
		compliant.Status, compliant.Reason = metav1.ConditionFalse, v1alpha1.ReasonNonCompliantPods
		what := fmt.Sprintf("%d running pods", n)
		if n == 1 {
			what = "1 running pod"
		}
		compliant.Message = clip(fmt.Sprintf("%s would not be admitted now: %s%s. They keep running; their NonCompliant Events say why.", what, strings.Join(names, ", "), more))
	}
	meta.SetStatusCondition(&out.Conditions, compliant)
	return out
}

// clip shortens s to maxMessage bytes, on a character boundary.
func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return strings.ToValidUTF8(s[:maxMessage-3], "") + "..."
}
