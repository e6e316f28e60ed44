package env

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// httpOK returns a probe that GETs url and wants 200. It never uses a proxy.
func httpOK(url string, tlsConf *tls.Config, header http.Header) func(context.Context) error {
	client := &http.Client{Transport: &http.Transport{
		Proxy:             nil,
		TLSClientConfig:   tlsConf,
		DisableKeepAlives: true,
	}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	}
}

// HTTPOK returns a probe that GETs a plain-HTTP url and wants 200, for
// readiness endpoints such as gatehouse's /readyz.
func HTTPOK(url string) func(context.Context) error { return httpOK(url, nil, nil) }
