package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// FileSource serves a certificate and key from files and reloads them when
// their content changes (as cert-manager or a mounted Secret renews them). A
// bad pair on reload is logged and the previous one keeps serving.
type FileSource struct {
	holder
	certFile, keyFile string
	last              []byte
	log               *slog.Logger
}

// NewFileSource loads the pair now; an unreadable or mismatched pair is an
// error.
func NewFileSource(certFile, keyFile string, log *slog.Logger) (*FileSource, error) {
	if log == nil {
		log = slog.Default()
	}
	f := &FileSource{certFile: certFile, keyFile: keyFile, log: log}
	if _, err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Run checks the files every interval until ctx ends.
func (f *FileSource) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed, err := f.reload()
			if err != nil {
				f.log.Error("reloading serving certificate; keeping the previous one", "error", err)
			} else if changed {
				f.log.Info("serving certificate reloaded", "notAfter", f.NotAfter())
			}
		}
	}
}

func (f *FileSource) reload() (bool, error) {
	certPEM, err := os.ReadFile(f.certFile)
	if err != nil {
		return false, err
	}
	keyPEM, err := os.ReadFile(f.keyFile)
	if err != nil {
		return false, err
	}
	both := append(append([]byte{}, certPEM...), keyPEM...)
	if bytes.Equal(both, f.last) {
		return false, nil
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("%s, %s: %w", f.certFile, f.keyFile, err)
	}
	if err := f.set(&c); err != nil {
		return false, err
	}
	f.last = both
	return true, nil
}
