package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testCALife   = 300 * time.Hour // CA lifetime 301h with the hour of back-dating: due after ~t0+199h40m
	testCertLife = 30 * time.Hour  // leaf lifetime 30h05m: due after ~t0+19h58m
)

var testHosts = []string{"gatehouse.test", "127.0.0.1"}

func newSelfManaged(t *testing.T, store CAStore, clock *fakeClock, bundle BundleWriter) *SelfManaged {
	t.Helper()
	s, err := NewSelfManaged(SelfManagedOptions{Hosts: testHosts, Store: store, Bundle: bundle, CAValidity: testCALife, CertValidity: testCertLife, Log: discardLog(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSelfManagedChecksOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    SelfManagedOptions
		wantErr bool
	}{
		{"hosts and store", SelfManagedOptions{Hosts: testHosts, Store: &MemoryStore{}}, false},
		{"no hosts", SelfManagedOptions{Store: &MemoryStore{}}, true},
		{"no store", SelfManagedOptions{Hosts: testHosts}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSelfManaged(tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (s.o.CAValidity != 5*365*24*time.Hour || s.o.CertValidity != 30*24*time.Hour || s.o.Now == nil || s.o.Log == nil) {
				t.Errorf("defaults not set: %+v", s.o)
			}
		})
	}
}

func TestSelfManagedNotReadyBeforeRefresh(t *testing.T) {
	s := newSelfManaged(t, &MemoryStore{}, newClock(), nil)
	if s.Ready() == nil {
		t.Error("Ready before the first Refresh")
	}
	if _, err := s.GetCertificate(nil); err == nil {
		t.Error("GetCertificate before the first Refresh returned a certificate")
	}
	if !s.NotAfter().IsZero() {
		t.Errorf("NotAfter before the first Refresh = %v", s.NotAfter())
	}
}

func TestSelfManagedLifecycle(t *testing.T) {
	clock, store, bundles := newClock(), &MemoryStore{}, &recordingBundle{}
	s := newSelfManaged(t, store, clock, bundles)
	ctx := context.Background()
	// Steps run in order on one SelfManaged; times are after t0.
	steps := []struct {
		name           string
		at             time.Duration
		wantNewCert    bool
		wantNewCA      bool
		wantBundleCAs  int
		wantCertExpiry time.Duration // after t0
	}{
		{"first refresh creates CA and certificate", 0, true, true, 1, 30 * time.Hour},
		{"immediately again: nothing changes", 0, false, false, 1, 30 * time.Hour},
		{"before two thirds of the certificate life", 19 * time.Hour, false, false, 1, 30 * time.Hour},
		{"past two thirds of the certificate life", 21 * time.Hour, true, false, 1, 51 * time.Hour},
		{"certificate expired, CA not due", 199 * time.Hour, true, false, 1, 229 * time.Hour},
		// The CA rotates, but the certificate the old CA issued is still
		// trusted and not due: it keeps serving, so no client ever meets a
		// certificate from a CA the API server has not been told of yet.
		{"past two thirds of the CA life", 201 * time.Hour, false, true, 2, 229 * time.Hour},
		{"certificate due: issued by the new CA", 221 * time.Hour, true, false, 2, 251 * time.Hour},
		{"old CA expired: dropped from the bundle", 301 * time.Hour, true, false, 1, 331 * time.Hour},
	}
	var prevCert, prevCA *x509.Certificate
	var prevLeaves []*x509.Certificate // every certificate served so far
	for _, st := range steps {
		clock.Set(t0.Add(st.at))
		if err := s.Refresh(ctx); err != nil {
			t.Fatalf("%s: Refresh: %v", st.name, err)
		}
		if err := s.Ready(); err != nil {
			t.Fatalf("%s: Ready: %v", st.name, err)
		}
		stored, err := store.Load(ctx)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		cert := current(t, s)
		if newCert := prevCert == nil || cert.Leaf.SerialNumber.Cmp(prevCert.SerialNumber) != 0; newCert != st.wantNewCert {
			t.Errorf("%s: new certificate %v, want %v", st.name, newCert, st.wantNewCert)
		}
		if newCA := prevCA == nil || !stored.Cert.Equal(prevCA); newCA != st.wantNewCA {
			t.Errorf("%s: new CA %v, want %v", st.name, newCA, st.wantNewCA)
		}
		if got, want := s.NotAfter(), t0.Add(st.wantCertExpiry); !got.Equal(want) {
			t.Errorf("%s: NotAfter %v, want %v", st.name, got, want)
		}
		// The published bundle holds the current CA and unexpired old ones,
		// and the served certificate verifies against it; a newly issued
		// one is issued by the stored CA.
		bundle := bundles.last(t)
		if err := verifyLeaf(cert, bundlePool(t, bundle), "gatehouse.test", clock.Now()); err != nil {
			t.Errorf("%s: certificate does not verify against the bundle: %v", st.name, err)
		}
		if st.wantNewCert {
			if err := verifyLeaf(cert, poolOf(stored.Cert), "gatehouse.test", clock.Now()); err != nil {
				t.Errorf("%s: new certificate not issued by the stored CA: %v", st.name, err)
			}
		}
		cas := parsePEMCerts(t, bundle)
		if len(cas) != st.wantBundleCAs || !cas[0].Equal(stored.Cert) {
			t.Errorf("%s: bundle holds %d CAs (first is current: %v), want %d", st.name, len(cas), len(cas) > 0 && cas[0].Equal(stored.Cert), st.wantBundleCAs)
		}
		if st.wantNewCA && prevCA != nil {
			if len(cas) < 2 || !cas[1].Equal(prevCA) {
				t.Errorf("%s: bundle lacks the previous CA", st.name)
			}
			if len(stored.Previous) == 0 || !stored.Previous[0].Equal(prevCA) {
				t.Errorf("%s: stored CA does not keep the previous one", st.name)
			}
		}
		// Every earlier certificate that has not expired still verifies
		// against the bundle: clients connected to other replicas, or
		// before the rotation, keep working.
		for _, leaf := range prevLeaves {
			if clock.Now().After(leaf.NotAfter) {
				continue
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: bundlePool(t, bundle), DNSName: "gatehouse.test", CurrentTime: clock.Now()}); err != nil {
				t.Errorf("%s: certificate %v (until %v) no longer verifies against the bundle: %v", st.name, leaf.SerialNumber, leaf.NotAfter, err)
			}
		}
		prevCert, prevCA = cert.Leaf, stored.Cert
		prevLeaves = append(prevLeaves, cert.Leaf)
	}
	if got := bundles.count(); got != len(steps) {
		t.Errorf("bundle written %d times, want once per Refresh (%d): drift must be repaired", got, len(steps))
	}
}

// countingStore counts Create calls and can play another replica.
type countingStore struct {
	MemoryStore
	mu      sync.Mutex
	creates int
	// beforeCreate/beforeReplace run first, once, like a replica that got
	// there first.
	beforeCreate, beforeReplace func(*MemoryStore)
}

func (c *countingStore) Create(ctx context.Context, ca *CA) error {
	c.mu.Lock()
	c.creates++
	if f := c.beforeCreate; f != nil {
		c.beforeCreate = nil
		f(&c.MemoryStore)
	}
	c.mu.Unlock()
	return c.MemoryStore.Create(ctx, ca)
}

func (c *countingStore) Replace(ctx context.Context, old, next *CA) error {
	c.mu.Lock()
	if f := c.beforeReplace; f != nil {
		c.beforeReplace = nil
		f(&c.MemoryStore)
	}
	c.mu.Unlock()
	return c.MemoryStore.Replace(ctx, old, next)
}

func TestSelfManagedSharedStore(t *testing.T) {
	ctx := context.Background()
	clock, store := newClock(), &countingStore{}
	b1, b2 := &recordingBundle{}, &recordingBundle{}
	s1, s2 := newSelfManaged(t, store, clock, b1), newSelfManaged(t, store, clock, b2)
	if err := s1.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if store.creates != 1 {
		t.Errorf("Create called %d times, want once: the second replica must load the CA", store.creates)
	}
	if string(b1.last(t)) != string(b2.last(t)) {
		t.Error("the replicas publish different bundles")
	}
	c1, c2 := current(t, s1), current(t, s2)
	if c1.Leaf.SerialNumber.Cmp(c2.Leaf.SerialNumber) == 0 {
		t.Error("the replicas share a serving certificate; each must issue its own")
	}
	for i, s := range []*SelfManaged{s1, s2} {
		if err := verifyLeaf(current(t, s), bundlePool(t, b1.last(t)), "gatehouse.test", clock.Now()); err != nil {
			t.Errorf("replica %d's certificate does not verify against the shared bundle: %v", i+1, err)
		}
	}

	// s1 rotates the CA; s2 picks the rotated CA up and reissues.
	clock.Set(t0.Add(201 * time.Hour))
	if err := s1.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ := store.Load(ctx)
	for i, s := range []*SelfManaged{s1, s2} {
		if err := verifyLeaf(current(t, s), poolOf(stored.Cert), "gatehouse.test", clock.Now()); err != nil {
			t.Errorf("replica %d does not serve a certificate of the rotated CA: %v", i+1, err)
		}
	}
	if n := len(parsePEMCerts(t, b2.last(t))); n != 2 {
		t.Errorf("second replica's bundle holds %d CAs after the rotation, want 2", n)
	}
}

func TestSelfManagedRaces(t *testing.T) {
	ctx := context.Background()
	other := mustCA(t, t0, testCALife)
	tests := []struct {
		name  string
		setup func(*countingStore, *fakeClock)
	}{
		{
			name: "another replica creates the CA first",
			setup: func(s *countingStore, _ *fakeClock) {
				s.beforeCreate = func(m *MemoryStore) { m.ca = other }
			},
		},
		{
			name: "another replica rotates the CA first",
			setup: func(s *countingStore, c *fakeClock) {
				s.ca = mustCA(t, t0, testCALife)
				c.Set(t0.Add(201 * time.Hour))
				s.beforeReplace = func(m *MemoryStore) { m.ca = other }
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock, store := newClock(), &countingStore{}
			tt.setup(store, clock)
			s := newSelfManaged(t, store, clock, nil)
			if err := s.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if stored, _ := store.Load(ctx); !stored.Cert.Equal(other.Cert) {
				t.Error("the other replica's CA was overwritten")
			}
			if err := verifyLeaf(current(t, s), poolOf(other.Cert), "gatehouse.test", clock.Now()); err != nil {
				t.Errorf("certificate not issued by the other replica's CA: %v", err)
			}
		})
	}
}

type failingStore struct{ err error }

func (f failingStore) Load(context.Context) (*CA, error)       { return nil, f.err }
func (f failingStore) Create(context.Context, *CA) error       { return f.err }
func (f failingStore) Replace(context.Context, *CA, *CA) error { return f.err }

func TestSelfManagedRefreshErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		store     CAStore
		bundleErr error
		want      string
		wantReady bool
	}{
		{"store unreachable", failingStore{errors.New("connection refused")}, nil, "certificate authority: connection refused", false},
		// Without a published bundle the API server could not reach a
		// certificate: stay unready, and say why.
		{"bundle not written", &MemoryStore{}, errors.New("forbidden"), "writing caBundle: forbidden", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSelfManaged(t, tt.store, newClock(), &recordingBundle{err: tt.bundleErr})
			err := s.Refresh(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Refresh = %v, want an error containing %q", err, tt.want)
			}
			if ready := s.Ready() == nil; ready != tt.wantReady {
				t.Errorf("ready %v, want %v", ready, tt.wantReady)
			}
		})
	}
}

func TestSelfManagedRun(t *testing.T) {
	bundles := &recordingBundle{}
	s := newSelfManaged(t, &MemoryStore{}, newClock(), bundles)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, time.Millisecond); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for bundles.count() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("Run refreshed %d times", bundles.count())
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Ready(); err != nil {
		t.Errorf("not ready while running: %v", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
