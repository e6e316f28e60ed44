package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func unstructuredPolicy(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	return u
}

// lockedBuffer is a log sink safe for the informer goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type watchFixture struct {
	client  *dynamicfake.FakeDynamicClient
	store   *Store
	logs    *lockedBuffer
	watches chan schema.GroupVersionResource
	cancel  context.CancelFunc
	done    chan error
}

func startWatch(t *testing.T, objects ...runtime.Object) *watchFixture {
	t.Helper()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		ClusterImagePolicies: "ClusterImagePolicyList",
		ImagePolicies:        "ImagePolicyList",
	}, objects...)
	f := &watchFixture{client: client, store: NewStore(SourceCluster), logs: &lockedBuffer{}, watches: make(chan schema.GroupVersionResource, 100), done: make(chan error, 1)}
	// The fake does not replay events that happen between an informer's list
	// and its watch, so tests wait until both watches are registered.
	client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := client.Tracker().Watch(a.GetResource(), a.GetNamespace())
		select {
		case f.watches <- a.GetResource():
		default:
		}
		return true, w, err
	})
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go func() { f.done <- Watch(ctx, client, f.store, slog.New(slog.NewTextHandler(f.logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		<-f.done
	})
	return f
}

// synced waits until the store is ready and both informers watch.
func (f *watchFixture) synced(t *testing.T) {
	t.Helper()
	seen := map[schema.GroupVersionResource]bool{}
	timeout := time.After(10 * time.Second)
	for len(seen) < 2 {
		select {
		case gvr := <-f.watches:
			seen[gvr] = true
		case <-timeout:
			t.Fatalf("informers did not start watching; saw %v", seen)
		}
	}
	eventually(t, "store ready", func() error { return boolError(f.store.Ready(), "not ready") })
}

func boolError(ok bool, msg string) error {
	if ok {
		return nil
	}
	return errors.New(msg)
}

// serving returns the mode of the policy with id in the current snapshot.
func (f *watchFixture) serving(id string) (v1alpha1.Mode, bool) {
	snap := f.store.Snapshot()
	all := append([]*Policy{}, snap.cluster...)
	for _, ps := range snap.byNS {
		all = append(all, ps...)
	}
	for _, p := range all {
		if p.ID == id {
			return p.Mode, true
		}
	}
	return "", false
}

func (f *watchFixture) wantServing(t *testing.T, id string, mode v1alpha1.Mode) {
	t.Helper()
	eventually(t, id+" serving in mode "+string(mode), func() error {
		if got, ok := f.serving(id); !ok || got != mode {
			return fmt.Errorf("serving %v, mode %q", ok, got)
		}
		return nil
	})
}

func TestWatch(t *testing.T) {
	pem := newKeyPEM(t)
	doc := func(kind, ns, name, mode string) string {
		return policyYAML(kind, ns, name, specYAML("docker.io/**", pem)+"  mode: "+mode+"\n")
	}
	ctx := context.Background()
	seeded := unstructuredPolicy(t, doc("ClusterImagePolicy", "", "seeded", "enforce"))
	f := startWatch(t, seeded)
	f.synced(t)
	f.wantServing(t, "ClusterImagePolicy/seeded", v1alpha1.ModeEnforce)

	cluster := f.client.Resource(ClusterImagePolicies)
	namespaced := f.client.Resource(ImagePolicies)
	steps := []struct {
		name string
		do   func() error
		want func(t *testing.T)
	}{
		{
			name: "create ImagePolicy",
			do: func() error {
				_, err := namespaced.Namespace("team-a").Create(ctx, unstructuredPolicy(t, doc("ImagePolicy", "team-a", "web", "audit")), metav1.CreateOptions{})
				return err
			},
			want: func(t *testing.T) { f.wantServing(t, "ImagePolicy/team-a/web", v1alpha1.ModeAudit) },
		},
		{
			name: "bad revision keeps the previous one",
			do: func() error {
				_, err := cluster.Update(ctx, unstructuredPolicy(t, doc("ClusterImagePolicy", "", "seeded", "block")), metav1.UpdateOptions{})
				return err
			},
			want: func(t *testing.T) {
				eventually(t, "error recorded", func() error {
					if err := f.store.Errors()["ClusterImagePolicy/seeded"]; err == nil || !strings.Contains(err.Error(), `spec.mode "block"`) {
						return fmt.Errorf("errors %v", f.store.Errors())
					}
					return nil
				})
				if mode, ok := f.serving("ClusterImagePolicy/seeded"); !ok || mode != v1alpha1.ModeEnforce {
					t.Errorf("after a bad revision: serving %v mode %q, want the enforce revision", ok, mode)
				}
				if !strings.Contains(f.logs.String(), "policy refused") {
					t.Errorf("refusal not logged: %s", f.logs)
				}
			},
		},
		{
			name: "good revision clears the error",
			do: func() error {
				_, err := cluster.Update(ctx, unstructuredPolicy(t, doc("ClusterImagePolicy", "", "seeded", "warn")), metav1.UpdateOptions{})
				return err
			},
			want: func(t *testing.T) {
				f.wantServing(t, "ClusterImagePolicy/seeded", v1alpha1.ModeWarn)
				if errs := f.store.Errors(); len(errs) != 0 {
					t.Errorf("errors left: %v", errs)
				}
			},
		},
		{
			name: "a status write compiles nothing",
			do: func() error {
				u, err := cluster.Get(ctx, "seeded", metav1.GetOptions{})
				if err != nil {
					return err
				}
				u.Object["status"] = map[string]any{"observedGeneration": int64(7)}
				if _, err := cluster.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
					return err
				}
				// Events arrive in order: once this one serves, the status
				// write has been handled.
				_, err = cluster.Create(ctx, unstructuredPolicy(t, doc("ClusterImagePolicy", "", "marker", "enforce")), metav1.CreateOptions{})
				return err
			},
			want: func(t *testing.T) {
				f.wantServing(t, "ClusterImagePolicy/marker", v1alpha1.ModeEnforce)
				if n := strings.Count(f.logs.String(), "policy loaded\" policy=ClusterImagePolicy/seeded"); n != 2 {
					t.Errorf("ClusterImagePolicy/seeded loaded %d times, want 2 (seeded, then the warn revision): the status write was compiled\n%s", n, f.logs)
				}
			},
		},
		{
			name: "misspelt field refused",
			do: func() error {
				u := unstructuredPolicy(t, policyYAML("ClusterImagePolicy", "", "typo", "  images: [{glob: \"**\"}]\n  autorities: []\n"))
				_, err := cluster.Create(ctx, u, metav1.CreateOptions{})
				return err
			},
			want: func(t *testing.T) {
				eventually(t, "typo refused", func() error {
					if err := f.store.Errors()["ClusterImagePolicy/typo"]; err == nil || !strings.Contains(err.Error(), "autorities") {
						return fmt.Errorf("errors %v", f.store.Errors())
					}
					return nil
				})
				if _, ok := f.serving("ClusterImagePolicy/typo"); ok {
					t.Errorf("refused policy is serving")
				}
			},
		},
		{
			name: "misspelt update keeps the previous revision",
			do: func() error {
				u := unstructuredPolicy(t, policyYAML("ImagePolicy", "team-a", "web", "  images: [{glob: \"**\"}]\n  autorities: []\n"))
				_, err := namespaced.Namespace("team-a").Update(ctx, u, metav1.UpdateOptions{})
				return err
			},
			want: func(t *testing.T) {
				eventually(t, "update refused", func() error {
					if err := f.store.Errors()["ImagePolicy/team-a/web"]; err == nil || !strings.Contains(err.Error(), "autorities") {
						return fmt.Errorf("errors %v", f.store.Errors())
					}
					return nil
				})
				if mode, ok := f.serving("ImagePolicy/team-a/web"); !ok || mode != v1alpha1.ModeAudit {
					t.Errorf("after a misspelt revision: serving %v mode %q, want the audit revision", ok, mode)
				}
			},
		},
		{
			name: "delete ImagePolicy",
			do:   func() error { return namespaced.Namespace("team-a").Delete(ctx, "web", metav1.DeleteOptions{}) },
			want: func(t *testing.T) {
				eventually(t, "ImagePolicy gone", func() error {
					if _, ok := f.serving("ImagePolicy/team-a/web"); ok {
						return errors.New("still serving")
					}
					if err := f.store.Errors()["ImagePolicy/team-a/web"]; err != nil {
						return fmt.Errorf("error left: %v", err)
					}
					return nil
				})
			},
		},
		{
			name: "delete refused policy clears its error",
			do:   func() error { return cluster.Delete(ctx, "typo", metav1.DeleteOptions{}) },
			want: func(t *testing.T) {
				eventually(t, "error cleared", func() error {
					if errs := f.store.Errors(); len(errs) != 0 {
						return fmt.Errorf("errors %v", errs)
					}
					return nil
				})
			},
		},
		{
			name: "delete ClusterImagePolicy",
			do: func() error {
				if err := cluster.Delete(ctx, "marker", metav1.DeleteOptions{}); err != nil {
					return err
				}
				return cluster.Delete(ctx, "seeded", metav1.DeleteOptions{})
			},
			want: func(t *testing.T) {
				eventually(t, "store empty", func() error {
					if n := f.store.Snapshot().Len(); n != 0 {
						return fmt.Errorf("%d policies left", n)
					}
					return nil
				})
			},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := f.store.Snapshot().Revision
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			st.want(t)
			if after := f.store.Snapshot().Revision; after < before {
				t.Errorf("revision went back from %d to %d", before, after)
			}
		})
	}

	f.cancel()
	select {
	case err := <-f.done:
		f.done <- err // for the cleanup
		if err != nil {
			t.Errorf("Watch returned %v after its context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

func TestWatchNotReadyUntilListed(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		ClusterImagePolicies: "ClusterImagePolicyList",
		ImagePolicies:        "ImagePolicyList",
	})
	listed := make(chan struct{}, 100)
	client.PrependReactor("list", "imagepolicies", func(k8stesting.Action) (bool, runtime.Object, error) {
		select {
		case listed <- struct{}{}:
		default:
		}
		return true, nil, errors.New("imagepolicies: the server could not find the requested resource")
	})
	store := NewStore(SourceCluster)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, client, store, slog.New(slog.DiscardHandler)) }()
	select {
	case <-listed:
	case <-time.After(10 * time.Second):
		t.Fatal("informer never listed")
	}
	if store.Ready() {
		t.Error("store ready although ImagePolicies could not be listed")
	}
	cancel()
	select {
	case err := <-done:
		wantErrContaining(t, err, "caches did not sync")
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
	if store.Ready() {
		t.Error("store ready after a failed sync")
	}
}
