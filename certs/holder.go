package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync/atomic"
	"time"
)

// holder keeps the current certificate for lock-free handshakes.
type holder struct {
	cur atomic.Pointer[tls.Certificate]
}

var errNotLoaded = errors.New("no serving certificate loaded yet")

func (h *holder) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := h.cur.Load(); c != nil {
		return c, nil
	}
	return nil, errNotLoaded
}

func (h *holder) Ready() error {
	if h.cur.Load() == nil {
		return errNotLoaded
	}
	return nil
}

func (h *holder) NotAfter() time.Time {
	if c := h.cur.Load(); c != nil && c.Leaf != nil {
		return c.Leaf.NotAfter
	}
	return time.Time{}
}

func (h *holder) set(c *tls.Certificate) error {
	if c.Leaf == nil {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return err
		}
		c.Leaf = leaf
	}
	h.cur.Store(c)
	return nil
}
