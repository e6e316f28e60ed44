package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/verify/layout"
	"gatehouse.dev/gatehouse/webhook"
)

const testUsage = `usage: gatehouse test [--update] DIR...

Runs the policy tests of each DIR offline: DIR/policies holds the
policies, DIR/registry an OCI layout of the images (gatehouse record), and
each DIR/cases/NAME.yaml an object to decide (a Pod, a pod controller or an
AdmissionReview), whose verdict must equal DIR/cases/NAME.golden. Exit
code 0: every case passed; 1: a case failed; 2: bad usage or configuration.
`

type testConfig struct {
	update bool
	now    time.Time
	dirs   []string
}

func parseTest(args []string, stderr io.Writer) (*testConfig, error) {
	c := &testConfig{}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, testUsage); fs.PrintDefaults() }
	fs.BoolVar(&c.update, "update", false, "write each case's verdict to its .golden file instead of comparing")
	fs.Var(nowFlag{&c.now}, "now", "RFC 3339 time Rego modules see as the current time (time.now_ns), for reproducible verdicts; empty: the real clock")
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err.Error()}
	}
	if c.dirs = fs.Args(); len(c.dirs) == 0 {
		return nil, usageError{"give at least one test directory"}
	}
	return c, nil
}

func runTest(ctx context.Context, c *testConfig, stdout io.Writer) error {
	passed, failed := 0, 0
	for _, dir := range c.dirs {
		p, f, err := testDir(ctx, dir, c.update, c.now, stdout)
		if err != nil {
			return err
		}
		passed, failed = passed+p, failed+f
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return errDenied
	}
	return nil
}

// testDir runs the cases of one fixture directory.
func testDir(ctx context.Context, dir string, update bool, now time.Time, out io.Writer) (passed, failed int, err error) {
	rt, err := layout.Serve(filepath.Join(dir, "registry"))
	if err != nil {
		return 0, 0, configError{err}
	}
	off, err := newOffline(offlineOptions{policies: []string{filepath.Join(dir, "policies")}, transport: rt, unmatched: webhook.Deny, now: now})
	if err != nil {
		return 0, 0, configError{fmt.Errorf("%s: %w", dir, err)}
	}
	cases, err := filepath.Glob(filepath.Join(dir, "cases", "*.yaml"))
	if err != nil || len(cases) == 0 {
		return 0, 0, configError{fmt.Errorf("%s: no cases/*.yaml", dir)}
	}
	for _, file := range cases {
		ok, err := testCase(ctx, off, file, update, out)
		if err != nil {
			return 0, 0, err
		}
		if ok {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed, nil
}

func testCase(ctx context.Context, off *offline, file string, update bool, out io.Writer) (bool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return false, configError{err}
	}
	req, err := requestOf(data, "default")
	if err != nil {
		return false, configError{fmt.Errorf("%s: %w", file, err)}
	}
	d, patch := off.decide(ctx, req)
	var got bytes.Buffer
	render(&got, d, patch)
	golden := strings.TrimSuffix(file, ".yaml") + ".golden"
	if update {
		fmt.Fprintf(out, "updated %s\n", golden)
		return true, os.WriteFile(golden, got.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if errors.Is(err, os.ErrNotExist) {
		return false, configError{fmt.Errorf("%s: missing; write it with gatehouse test --update", golden)}
	}
	if err != nil {
		return false, err
	}
	if bytes.Equal(want, got.Bytes()) {
		fmt.Fprintf(out, "ok   %s\n", file)
		return true, nil
	}
	fmt.Fprintf(out, "FAIL %s\n--- want (%s)\n%s--- got\n%s", file, golden, want, got.Bytes())
	return false, nil
}
