package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"gatehouse.dev/gatehouse/verify/layout"
)

const recordUsage = `usage: gatehouse record --out DIR [flags] IMAGE...

Records each IMAGE with its signatures, attestations and referrers (not its
layers) into the OCI layout DIR, for gatehouse test and gatehouse verify
--layout. Pull credentials come from the docker config.
`

type recordConfig struct {
	out      string
	insecure []string
	images   []string
}

func parseRecord(args []string, stderr io.Writer) (*recordConfig, error) {
	c := &recordConfig{}
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, recordUsage); fs.PrintDefaults() }
	var insecure listFlag
	fs.StringVar(&c.out, "out", "", "OCI layout directory to write (created if missing)")
	fs.Var(&insecure, "insecure-registry", "registry host[:port] that may be reached over plain HTTP (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err.Error()}
	}
	c.insecure, c.images = insecure, fs.Args()
	switch {
	case c.out == "":
		return nil, usageError{"--out is required"}
	case len(c.images) == 0:
		return nil, usageError{"give at least one IMAGE"}
	}
	return c, nil
}

func runRecord(ctx context.Context, c *recordConfig, stdout io.Writer) error {
	var refs []name.Reference
	for _, s := range c.images {
		ref, err := name.ParseReference(s)
		if err == nil && slices.Contains(c.insecure, ref.Context().RegistryStr()) {
			ref, err = name.ParseReference(s, name.Insecure)
		}
		if err != nil {
			return configError{fmt.Errorf("%q: %w", s, err)}
		}
		refs = append(refs, ref)
	}
	if err := layout.Record(ctx, c.out, refs, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "recorded %d image(s) into %s\n", len(refs), c.out)
	return nil
}
