package certs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// CAStore keeps the CA where every replica finds it.
type CAStore interface {
	// Load returns the stored CA, or ErrNoCA.
	Load(ctx context.Context) (*CA, error)
	// Create stores ca if no CA is stored yet; ErrExists if one is.
	Create(ctx context.Context, ca *CA) error
	// Replace swaps old for next, failing with ErrConflict when another
	// replica changed the CA since old was loaded.
	Replace(ctx context.Context, old, next *CA) error
}

// Errors of CAStore.
var (
	ErrNoCA     = errors.New("no CA stored")
	ErrExists   = errors.New("a CA is already stored")
	ErrConflict = errors.New("the stored CA changed meanwhile")
)

// BundleWriter publishes the CA bundle to the API server's webhook
// configurations.
type BundleWriter interface {
	WriteBundle(ctx context.Context, bundle []byte) error
}

// SelfManagedOptions configure SelfManaged.
type SelfManagedOptions struct {
	Hosts        []string      // DNS names and IPs of the serving certificate
	Store        CAStore       // where the CA lives
	Bundle       BundleWriter  // nil: the bundle is not published
	CAValidity   time.Duration // default 5 years
	CertValidity time.Duration // default 30 days
	Log          *slog.Logger
	Now          func() time.Time
}

// SelfManaged issues and rotates its own serving certificate from a shared CA.
type SelfManaged struct {
	holder
	o  SelfManagedOptions
	ca *CA
}

// NewSelfManaged checks o.
func NewSelfManaged(o SelfManagedOptions) (*SelfManaged, error) {
	if len(o.Hosts) == 0 || o.Store == nil {
		return nil, errors.New("certs: Hosts and Store are required")
	}
	if o.CAValidity <= 0 {
		o.CAValidity = 5 * 365 * 24 * time.Hour
	}
	if o.CertValidity <= 0 {
		o.CertValidity = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &SelfManaged{o: o}, nil
}

// Refresh makes sure a CA exists and is not due for rotation, the serving
// certificate is fresh, and the bundle is published. Run calls it
// periodically; call it once before serving.
func (s *SelfManaged) Refresh(ctx context.Context) error {
	ca, err := s.ensureCA(ctx)
	if err != nil {
		return fmt.Errorf("certificate authority: %w", err)
	}
	now := s.o.Now()
	// Publish the bundle first: the API server must trust a new CA before
	// any replica serves a certificate it issued.
	if s.o.Bundle != nil {
		if err := s.o.Bundle.WriteBundle(ctx, ca.Bundle(now)); err != nil {
			return fmt.Errorf("writing caBundle: %w", err)
		}
	}
	s.ca = ca
	cur := s.cur.Load()
	if cur != nil && ca.Trusts(cur.Leaf, now) && !dueForRenewal(cur.Leaf.NotBefore, cur.Leaf.NotAfter, now) {
		return nil
	}
	c, err := ca.Issue(s.o.Hosts, now, s.o.CertValidity)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	if err := s.set(c); err != nil {
		return err
	}
	s.o.Log.Info("serving certificate issued", "hosts", s.o.Hosts, "notAfter", c.Leaf.NotAfter)
	return nil
}

// Run refreshes every interval until ctx ends, logging failures (the
// current certificate keeps serving).
func (s *SelfManaged) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Refresh(ctx); err != nil {
				s.o.Log.Error("refreshing certificates", "error", err)
			}
		}
	}
}

func (s *SelfManaged) ensureCA(ctx context.Context) (*CA, error) {
	ca, err := s.o.Store.Load(ctx)
	if errors.Is(err, ErrNoCA) {
		return s.createCA(ctx)
	}
	if err != nil {
		return nil, err
	}
	now := s.o.Now()
	if !dueForRenewal(ca.Cert.NotBefore, ca.Cert.NotAfter, now) {
		return ca, nil
	}
	next, err := ca.Rotate(now, s.o.CAValidity)
	if err != nil {
		return nil, err
	}
	if err := s.o.Store.Replace(ctx, ca, next); errors.Is(err, ErrConflict) {
		return s.o.Store.Load(ctx) // another replica rotated first
	} else if err != nil {
		return nil, err
	}
	s.o.Log.Info("CA rotated", "notAfter", next.Cert.NotAfter)
	return next, nil
}

func (s *SelfManaged) createCA(ctx context.Context) (*CA, error) {
	ca, err := NewCA(s.o.Now(), s.o.CAValidity)
	if err != nil {
		return nil, err
	}
	err = s.o.Store.Create(ctx, ca)
	if errors.Is(err, ErrExists) {
		return s.o.Store.Load(ctx) // another replica created it first
	}
	if err != nil {
		return nil, err
	}
	s.o.Log.Info("CA created", "notAfter", ca.Cert.NotAfter)
	return ca, nil
}

// MemoryStore keeps the CA in memory: for single-process runs and tests.
type MemoryStore struct {
	mu sync.Mutex
	ca *CA
}

// Load implements CAStore.
func (m *MemoryStore) Load(context.Context) (*CA, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ca == nil {
		return nil, ErrNoCA
	}
	return m.ca, nil
}

// Create implements CAStore.
func (m *MemoryStore) Create(_ context.Context, ca *CA) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ca != nil {
		return ErrExists
	}
	m.ca = ca
	return nil
}

// Replace implements CAStore.
func (m *MemoryStore) Replace(_ context.Context, old, next *CA) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ca == nil || !m.ca.Cert.Equal(old.Cert) {
		return ErrConflict
	}
	m.ca = next
	return nil
}
