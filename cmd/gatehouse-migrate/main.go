// Command gatehouse-migrate converts sigstore policy-controller
// ClusterImagePolicies into gatehouse ClusterImagePolicies. It reads YAML or
// JSON from the files named (standard input without any, or for "-"),
// writes the gatehouse policies to standard output and a report of what
// mapped, what changed meaning and what was dropped to standard error.
// docs/migrate.md explains the mapping.
//
// It is a binary of its own because policy-controller's API types pull in
// the cloud KMS SDKs, which the webhook binary must not carry.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"gatehouse.dev/gatehouse/policy/migrate"
)

// Exit codes.
const (
	exitExact    = 0 // every policy converted with its meaning intact
	exitBadInput = 1 // unreadable or invalid input, or bad usage: nothing written
	exitChanged  = 2 // converted, but something was dropped or changed meaning
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitExact
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-migrate:", err)
		return exitBadInput
	}
	results, err := convertInputs(cfg, stdin)
	if err == nil {
		err = migrate.WriteYAML(stdout, results)
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-migrate:", err)
		return exitBadInput
	}
	if err := migrate.WriteReport(stderr, results); err != nil {
		return exitBadInput
	}
	for _, r := range results {
		if !r.Exact() {
			return exitChanged
		}
	}
	return exitExact
}

// convertInputs reads every input before converting any, so that bad
// input writes nothing.
func convertInputs(cfg *Config, stdin io.Reader) ([]migrate.Result, error) {
	var docs []migrate.Document
	for _, name := range cfg.Files {
		data, err := readInput(name, stdin)
		if err != nil {
			return nil, err
		}
		d, err := migrate.ReadDocuments(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		docs = append(docs, d...)
	}
	if len(docs) == 0 {
		return nil, errors.New("no policy-controller ClusterImagePolicy in the input")
	}
	results := make([]migrate.Result, len(docs))
	for i, d := range docs {
		results[i] = migrate.ConvertDocument(d, cfg.Options)
	}
	return results, nil
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}
