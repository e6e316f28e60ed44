package main

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
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
