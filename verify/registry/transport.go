package registry

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/publicsuffix"
)

var (
	errTooLarge             = errors.New("response body exceeds the size limit")
	errCredentialsElsewhere = errors.New("refusing to send registry credentials to another host")
)

// guard is the innermost transport of every registry call. It caps response
// bodies and refuses any request that would carry credentials to a host other
// than the registry they were issued for, or over plain HTTP to a registry
// that is not allowed to be insecure. go-containerregistry adds credentials
// above this transport, so guard sees each request exactly as it is sent,
// including redirects and token requests to the auth realm.
type guard struct {
	base     http.RoundTripper
	registry string // host[:port] the credentials belong to
	insecure bool   // registry may be reached over plain HTTP
	maxBody  int64
	obs      Observer // nil: not observed
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		if err := g.mayCarryCredentials(req); err != nil {
			return nil, err
		}
	}
	if g.obs != nil {
		g.obs.RegistryInFlight(1)
		defer g.obs.RegistryInFlight(-1)
	}
	resp, err := g.base.RoundTrip(req)
	if g.obs != nil {
		g.obs.RegistryRequest(g.registry, statusClass(resp, err))
	}
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > g.maxBody {
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %w (%d > %d bytes)", req.Method, req.URL.Redacted(), errTooLarge, resp.ContentLength, g.maxBody)
	}
	body := &cappedBody{rc: resp.Body, left: g.maxBody}
	if g.obs != nil {
		body.read = func(n int) { g.obs.RegistryBytes(g.registry, n) }
	}
	resp.Body = body
	return resp, nil
}

// statusClass is the code label of a registry request.
func statusClass(resp *http.Response, err error) string {
	switch {
	case err != nil || resp == nil:
		return "error"
	case resp.StatusCode == http.StatusTooManyRequests:
		return "429"
	}
	return fmt.Sprintf("%dxx", resp.StatusCode/100)
}

func (g *guard) mayCarryCredentials(req *http.Request) error {
	if req.URL.Scheme != "https" && !g.insecure {
		return fmt.Errorf("%w: %s is not https", errCredentialsElsewhere, req.URL.Redacted())
	}
	if !sameSite(hostOnly(g.registry), hostOnly(req.URL.Host)) {
		return fmt.Errorf("%w: credentials for %s, request to %s", errCredentialsElsewhere, g.registry, req.URL.Host)
	}
	return nil
}

// sameSite reports whether credentials issued for registry may be sent to
// host: the same host name, or, for DNS names, the same registrable domain
// (index.docker.io and auth.docker.io; never docker.io.evil.com).
func sameSite(registry, host string) bool {
	registry, host = strings.ToLower(registry), strings.ToLower(host)
	if registry == host {
		return true
	}
	if net.ParseIP(registry) != nil || net.ParseIP(host) != nil || !strings.Contains(registry, ".") {
		return false
	}
	a, errA := publicsuffix.EffectiveTLDPlusOne(registry)
	b, errB := publicsuffix.EffectiveTLDPlusOne(host)
	return errA == nil && errB == nil && a == b
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// cappedBody fails a read that goes past the cap, so a registry that sends
// more than it declared, or declares nothing, cannot exhaust memory.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
	read func(n int) // nil: not observed
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	if c.read != nil && n > 0 {
		c.read(n)
	}
	if c.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

func (c *cappedBody) Close() error { return c.rc.Close() }
