package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// election is the leader election's timing: a replica that stops renewing
// is replaced within about lease. (A variable for the tests.)
var election = struct{ lease, renew, retry time.Duration }{15 * time.Second, 10 * time.Second, 2 * time.Second}

// lead runs work while this replica holds the Lease lease
// ("namespace/name"), and again each time it wins the lease back, until ctx
// ends. work's context ends when the lease is lost; lead waits for work to
// return before competing again, so two runs of work never overlap here.
// leading is told 1 while this replica leads, 0 otherwise.
func lead(ctx context.Context, client kubernetes.Interface, lease, identity string, leading func(float64), work func(context.Context), log *slog.Logger) {
	ns, name, _ := strings.Cut(lease, "/")
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	leading(0)
	for ctx.Err() == nil {
		var mu sync.Mutex
		var working chan struct{} // closed when work returns; nil if it never started
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: lease, ReleaseOnCancel: true,
			LeaseDuration: election.lease, RenewDeadline: election.renew, RetryPeriod: election.retry,
			Callbacks: leaderelection.LeaderCallbacks{
				// Called in a goroutine of its own; its ctx ends before
				// Run returns, so a late start sees it ended and does
				// nothing.
				OnStartedLeading: func(ctx context.Context) {
					mu.Lock()
					if ctx.Err() != nil {
						mu.Unlock()
						return
					}
					done := make(chan struct{})
					working = done
					mu.Unlock()
					defer close(done)
					leading(1)
					log.Info("leading: revalidating running pods and writing policy statuses", "lease", lease, "identity", identity)
					work(ctx)
				},
				OnStoppedLeading: func() { leading(0) },
			},
		})
		if err != nil { // the configuration is constant: a programming error
			log.Error("leader election", "error", err)
			return
		}
		elector.Run(ctx)
		mu.Lock()
		done := working
		mu.Unlock()
		if done != nil {
			<-done
			leading(0) // after work returned: a late start cannot leave 1 behind
			log.Info("stopped leading", "lease", lease, "identity", identity)
		}
	}
}

// leaderIdentity names this replica in the lease: its host name (the pod's
// name) and a random suffix, so a restarted pod is a new candidate.
func leaderIdentity() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "_" + hex.EncodeToString(b)
}
