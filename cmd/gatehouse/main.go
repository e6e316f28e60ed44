// Command gatehouse is the Kubernetes admission service that admits only
// images from a trusted supply chain. `gatehouse serve` runs the webhook;
// docs/flags.md lists its flags. `gatehouse verify`, `test` and `record`
// decide objects outside a cluster, for policy authors and CI pipelines
// (docs/cli.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errDenied) { // the verdict is already printed
			fmt.Fprintln(os.Stderr, "gatehouse:", err)
		}
		os.Exit(exitCode(err))
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"missing command: " + commands}
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServe(args[1:], stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr)
	case "verify":
		return runCommand(ctx, args[1:], stdout, stderr, parseVerify, runVerify)
	case "test":
		return runCommand(ctx, args[1:], stdout, stderr, parseTest, runTest)
	case "record":
		return runCommand(ctx, args[1:], stdout, stderr, parseRecord, runRecord)
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: gatehouse serve|verify|test|record [flags] | gatehouse version\nrun `gatehouse COMMAND -h` for a command's flags")
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q: use %s", args[0], commands)}
}

// runCommand parses a command's flags, then runs it.
func runCommand[C any](ctx context.Context, args []string, stdout, stderr io.Writer,
	parse func([]string, io.Writer) (C, error), run func(context.Context, C, io.Writer) error) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	return run(ctx, c, stdout)
}

const commands = "serve, verify, test, record or version"

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitCode: 1 for a denial (or a failed test) and for failures to decide;
// 2 for bad usage or configuration.
func exitCode(err error) int {
	var u usageError
	var c configError
	if errors.As(err, &u) || errors.As(err, &c) {
		return 2
	}
	return 1
}
