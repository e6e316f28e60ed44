// Command load measures the gatehouse binary under load: it starts a real
// registry (docker-registry) and gatehouse (policies from a file, serving
// certificate from files), then sends AdmissionReviews over HTTPS from
// several workers and reports latency percentiles and throughput per
// scenario. All traffic stays on loopback and every loop is bounded.
// `make bench` runs it; docs/benchmarks.md records its results.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gatehouse.dev/gatehouse/e2e/env"
)

func main() {
	bin := flag.String("gatehouse", "bin/gatehouse", "the gatehouse binary")
	requests := flag.Int("requests", 2000, "requests per scenario (bounded)")
	workers := flag.Int("workers", 8, "concurrent clients")
	flag.Parse()
	if err := run(*bin, *requests, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(bin string, requests, workers int) error {
	tools, err := env.FindTools()
	if err != nil && tools.Registry == "" {
		return err
	}
	dir, err := os.MkdirTemp("", "gatehouse-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := env.New(dir, tools)
	defer e.Close()
	host, err := e.StartRegistry(ctx)
	if err != nil {
		return err
	}
	fx, err := seed(ctx, host, dir)
	if err != nil {
		return err
	}
	fmt.Printf("gatehouse load: %d requests per scenario, %d workers, registry %s, GOMAXPROCS of this machine: %d cores\n\n", requests, workers, host, numCPU())
	fmt.Println("| scenario | cache | requests | p50 ms | p95 ms | p99 ms | max ms | req/s | allowed |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, cache := range []bool{true, false} {
		url, pool, err := startGatehouse(ctx, e, bin, dir, fx, cache)
		if err != nil {
			return err
		}
		client := newClient(pool, workers)
		for _, sc := range scenarios(fx) {
			r, err := measure(ctx, client, url, sc, requests, workers)
			if err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			fmt.Println(r.row(sc.name, cache))
		}
	}
	return nil
}

func startGatehouse(ctx context.Context, e *env.Env, bin, dir string, fx *fixture, cache bool) (string, *x509.CertPool, error) {
	ports := [2]int{}
	for i := range ports {
		p, err := env.FreePort()
		if err != nil {
			return "", nil, err
		}
		ports[i] = p
	}
	size := "10000"
	if !cache {
		size = "0"
	}
	args := []string{"serve", "--kubeconfig=none", "--tls-mode=files",
		"--tls-cert-file=" + fx.certFile, "--tls-key-file=" + fx.keyFile,
		"--policy-file=" + filepath.Join(dir, "policy.yaml"),
		"--listen=127.0.0.1:" + strconv.Itoa(ports[0]), "--probe-listen=127.0.0.1:" + strconv.Itoa(ports[1]),
		"--cache-size=" + size, "--log-level=warn"}
	ready := env.HTTPOK("http://127.0.0.1:" + strconv.Itoa(ports[1]) + "/readyz")
	if _, err := e.Start(ctx, "gatehouse", ready, bin, args...); err != nil {
		return "", nil, err
	}
	return "https://127.0.0.1:" + strconv.Itoa(ports[0]), fx.pool, nil
}

func newClient(pool *x509.CertPool, workers int) *httpClient {
	return newHTTPClient(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, workers)
}
