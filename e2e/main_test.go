// Package e2e tests gatehouse the way a cluster uses it: a real
// kube-apiserver and etcd call the gatehouse binary over TLS through the
// shipped webhook configurations; images live in a real registry and are
// signed by the real cosign CLI. Everything listens on loopback; `make e2e`
// runs the suite in a private network namespace.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/e2e/env"
	"gatehouse.dev/gatehouse/e2e/stack"
)

// suite is the shared stack and the images every test uses.
var suite struct {
	*stack.Stack
	signed, signedDigest string // tag reference and its digest
	unsigned             string
	skip                 string
	bin                  string // the gatehouse binary
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	tools, err := env.FindTools()
	if err != nil {
		if os.Getenv("GATEHOUSE_E2E") != "" {
			return 0, err
		}
		suite.skip = err.Error()
		return m.Run(), nil
	}
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := gatehouseBinary(ctx, dir)
	if err != nil {
		return 0, err
	}
	s, err := stack.Start(ctx, stack.Options{Dir: dir, Tools: tools, GatehouseBin: bin})
	if err != nil {
		return 0, fmt.Errorf("starting the stack (logs in %s): %w", dir, err)
	}
	suite.Stack, suite.bin = s, bin
	if err := seed(ctx); err != nil {
		s.Close()
		return 0, fmt.Errorf("seeding (logs in %s): %w", dir, err)
	}
	code := m.Run()
	s.Close()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "e2e: logs kept in", dir)
	}
	return code, nil
}

// gatehouseBinary returns $GATEHOUSE_BIN, or builds the binary.
func gatehouseBinary(ctx context.Context, dir string) (string, error) {
	if b := os.Getenv("GATEHOUSE_BIN"); b != "" {
		if !filepath.IsAbs(b) { // go test runs in the package directory, not the caller's
			return "", fmt.Errorf("GATEHOUSE_BIN=%q: give an absolute path", b)
		}
		return b, nil
	}
	bin := filepath.Join(dir, "gatehouse")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "gatehouse.dev/gatehouse/cmd/gatehouse").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building gatehouse: %v\n%s", err, out)
	}
	return bin, nil
}

// seed pushes a signed and an unsigned image, signs with cosign, and loads a
// policy trusting the cosign key for everything under <registry>/e2e/.
func seed(ctx context.Context) error {
	var err error
	if suite.signed, suite.signedDigest, err = suite.PushImage(ctx, "e2e/signed:v1"); err != nil {
		return err
	}
	if err := suite.Cosign.Sign(ctx, suite.Registry+"/e2e/signed@"+suite.signedDigest); err != nil {
		return err
	}
	if suite.unsigned, _, err = suite.PushImage(ctx, "e2e/unsigned:v1"); err != nil {
		return err
	}
	p := stack.ClusterPolicy("e2e", []string{suite.Registry + "/e2e/**"}, "ci", suite.Cosign.PublicKey, "")
	if err := suite.CreateClusterPolicy(ctx, p); err != nil {
		return err
	}
	return suite.WaitPolicy(ctx, suite.unsigned)
}

// need skips t when the stack could not be set up for lack of tools.
func need(t *testing.T) context.Context {
	t.Helper()
	if suite.skip != "" {
		t.Skip(suite.skip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
