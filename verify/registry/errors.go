package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Kind classifies a registry failure.
type Kind string

// Kinds of registry failure.
const (
	// NotFound: the registry answered that the manifest or blob does not exist.
	NotFound Kind = "not-found"
	// RateLimited: the registry answered 429 Too Many Requests.
	RateLimited Kind = "rate-limited"
	// Denied: the registry refused our credentials (401/403).
	Denied Kind = "denied"
	// Unavailable: network failure or a 5xx answer.
	Unavailable Kind = "unavailable"
	// Timeout: the deadline passed before the registry answered in full.
	Timeout Kind = "timeout"
	// Invalid: the registry answered with content we refuse: too large, too
	// many elements, a digest that does not match, malformed JSON.
	Invalid Kind = "invalid"
)

// Error is a classified registry failure.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("registry %s: %v", e.Kind, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying later could succeed.
func (e *Error) Temporary() bool {
	switch e.Kind {
	case RateLimited, Unavailable, Timeout, Denied:
		return true
	}
	return false
}

// KindOf returns the Kind of err, or "" when err is not a registry error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

func invalid(format string, args ...any) error {
	return &Error{Kind: Invalid, Err: fmt.Errorf(format, args...)}
}

// classify turns an error from go-containerregistry or the network into an
// *Error.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: kindOf(err), Err: err}
}

func kindOf(err error) Kind {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Timeout
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return Timeout
	}
	if errors.Is(err, errTooLarge) || errors.Is(err, errCredentialsElsewhere) {
		return Invalid
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return statusKind(terr)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return Unavailable // the connection failed
	}
	// What is left is content go-containerregistry refused: a digest that
	// does not match the bytes, a size that does not match the descriptor.
	return Invalid
}

func statusKind(terr *transport.Error) Kind {
	switch {
	case terr.StatusCode == http.StatusNotFound:
		return NotFound
	case terr.StatusCode == http.StatusTooManyRequests:
		return RateLimited
	case terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden:
		return Denied
	}
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
			return NotFound
		case transport.TooManyRequestsErrorCode:
			return RateLimited
		}
	}
	return Unavailable
}
