package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

type httpClient struct{ *http.Client }

func newHTTPClient(tlsCfg *tls.Config, workers int) *httpClient {
	return &httpClient{&http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsCfg, MaxIdleConnsPerHost: workers, ForceAttemptHTTP2: false},
	}}
}

type scenario struct {
	name   string
	images []string
}

func scenarios(f *fixture) []scenario {
	return []scenario{
		{name: "1 signed image, pinned", images: []string{f.signed + "@" + f.signedDigest}},
		{name: "1 signed image, by tag", images: []string{f.signed}},
		{name: "1 unsigned image, pinned (denied)", images: []string{f.unsigned + "@" + f.unsignedDigest}},
		{name: "3 containers: 2 signed pinned + 1 tag", images: []string{f.signed + "@" + f.signedDigest, f.signed + "@" + f.signedDigest, f.signed}},
	}
}

func body(sc scenario, i int) []byte {
	p := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "load", Namespace: "load"}}
	for j, im := range sc.images {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", j), Image: im})
	}
	raw, _ := json.Marshal(p)
	rev := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID(fmt.Sprint("load-", i)), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Operation: admissionv1.Create, Namespace: "load", Name: "load", Object: runtime.RawExtension{Raw: raw},
		},
	}
	b, _ := json.Marshal(rev)
	return b
}

type result struct {
	latencies []time.Duration
	wall      time.Duration
	allowed   int64
}

// measure sends n requests from workers goroutines, one warm-up request
// first, and returns the latencies.
func measure(ctx context.Context, c *httpClient, url string, sc scenario, n, workers int) (*result, error) {
	b := body(sc, 0)
	if _, err := c.review(ctx, url, b); err != nil {
		return nil, err
	}
	res := &result{latencies: make([]time.Duration, n)}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				t0 := time.Now()
				ok, err := c.review(ctx, url, b)
				res.latencies[i] = time.Since(t0)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				if ok {
					atomic.AddInt64(&res.allowed, 1)
				}
			}
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res, firstErr
}

func (c *httpClient) review(ctx context.Context, url string, b []byte) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/validate?timeout=10s", bytes.NewReader(b))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d: %v %s", resp.StatusCode, err, data)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &out); err != nil || out.Response == nil {
		return false, fmt.Errorf("bad response: %v", err)
	}
	return out.Response.Allowed, nil
}

func (r *result) row(name string, cache bool) string {
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	pct := func(p float64) string {
		return fmt.Sprintf("%.2f", float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds())/1000)
	}
	c := "on"
	if !cache {
		c = "off"
	}
	return fmt.Sprintf("| %s | %s | %d | %s | %s | %s | %s | %.0f | %d |", name, c, len(s), pct(0.50), pct(0.95), pct(0.99),
		fmt.Sprintf("%.2f", float64(s[len(s)-1].Microseconds())/1000), float64(len(s))/r.wall.Seconds(), r.allowed)
}
