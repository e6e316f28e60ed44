package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// One replica at a time does the cluster-wide work: the first to take the
// lease; when it stops, another takes over; the work never runs twice at
// once, and each replica reports whether it leads.
func TestLeadOneAtATime(t *testing.T) {
	saved := election
	election.lease, election.renew, election.retry = time.Second, 500*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { election = saved })
	client := fake.NewClientset()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var running, most atomic.Int32
	started := make(chan string, 4)
	work := func(name string) func(context.Context) {
		return func(ctx context.Context) {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			started <- name
			<-ctx.Done()
			running.Add(-1)
		}
	}
	type replica struct {
		cancel  context.CancelFunc
		done    chan struct{}
		leading atomic.Int32
	}
	start := func(name string) *replica {
		r := &replica{done: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		go func() {
			defer close(r.done)
			lead(ctx, client, "gatehouse-system/gatehouse-leader", name, func(v float64) { r.leading.Store(int32(v)) }, work(name), log)
		}()
		return r
	}
	a := start("a")
	if got := <-started; got != "a" {
		t.Fatalf("%s started first", got)
	}
	b := start("b")
	select {
	case got := <-started:
		t.Fatalf("%s started while a leads", got)
	case <-time.After(300 * time.Millisecond):
	}
	if a.leading.Load() != 1 || b.leading.Load() != 0 {
		t.Fatalf("leading: a %d, b %d", a.leading.Load(), b.leading.Load())
	}
	a.cancel() // a stops (a rollout): it releases the lease
	<-a.done
	select {
	case got := <-started:
		if got != "b" {
			t.Fatalf("%s took over, want b", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b never took over")
	}
	b.cancel()
	<-b.done
	if most.Load() != 1 {
		t.Errorf("the work ran %d times at once", most.Load())
	}
	if a.leading.Load() != 0 || b.leading.Load() != 0 {
		t.Errorf("after stopping: a %d, b %d", a.leading.Load(), b.leading.Load())
	}
}

// A replica that cannot renew its lease (the API server refuses for a
// while) stops its work and reports 0, then competes again and resumes
// once the API server answers.
func TestLeadLosesAndRegains(t *testing.T) {
	saved := election
	election.lease, election.renew, election.retry = time.Second, 300*time.Millisecond, 50*time.Millisecond
	t.Cleanup(func() { election = saved })
	client := fake.NewClientset()
	var refuse atomic.Bool
	client.PrependReactor("*", "leases", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if refuse.Load() {
			return true, nil, errors.New("the API server is away")
		}
		return false, nil, nil
	})
	var leading atomic.Int32
	starts := make(chan struct{}, 4)
	stops := make(chan struct{}, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(ctx, client, "gatehouse-system/gatehouse-leader", "a", func(v float64) { leading.Store(int32(v)) }, func(ctx context.Context) {
			starts <- struct{}{}
			<-ctx.Done()
			stops <- struct{}{}
		}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s", what)
		}
	}
	wait(starts, "first start")
	refuse.Store(true)
	wait(stops, "stop after the lease could not be renewed")
	for deadline := time.Now().Add(5 * time.Second); leading.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still reports leading after losing the lease")
		}
	}
	refuse.Store(false)
	wait(starts, "second start once the API server answers")
	if leading.Load() != 1 {
		t.Errorf("leading %d after winning the lease back", leading.Load())
	}
	cancel()
	<-done
}
