package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"gatehouse.dev/gatehouse/verify/layout"
	"gatehouse.dev/gatehouse/webhook"
)

// verifyConfig is what `gatehouse verify` reads from its flags.
type verifyConfig struct {
	policies  []string
	insecure  []string
	namespace string
	object    string
	layout    string
	output    string
	unmatched webhook.Action
	timeout   time.Duration
	now       time.Time
	images    []string
}

const verifyUsage = `usage: gatehouse verify --policy FILE|DIR [flags] IMAGE...
       gatehouse verify --policy FILE|DIR [flags] --object FILE

Decides a pod running IMAGE... (or the object in FILE: a Pod, a pod
controller or an AdmissionReview) as the webhook would, against the
registry. Exit code 0: admitted; 1: denied; 2: bad usage or configuration.
`

func parseVerify(args []string, stderr io.Writer) (*verifyConfig, error) {
	c := &verifyConfig{}
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage); fs.PrintDefaults() }
	var policies, insecure listFlag
	var unmatched string
	fs.Var(&policies, "policy", "policy file or directory of ClusterImagePolicy/ImagePolicy YAML (repeatable)")
	fs.Var(&insecure, "insecure-registry", "registry host[:port] that may be reached over plain HTTP (repeatable)")
	fs.StringVar(&c.namespace, "namespace", "default", "namespace of the pod, unless the object names one")
	fs.StringVar(&c.object, "object", "", "YAML or JSON file holding the object to decide, instead of IMAGE arguments")
	fs.StringVar(&c.layout, "layout", "", "serve the registry from this OCI layout (written by gatehouse record) instead of the network")
	fs.StringVar(&c.output, "output", "text", "text or json")
	fs.StringVar(&unmatched, "unmatched-images", "deny", "images no ClusterImagePolicy matches: deny, warn or allow")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "time limit for the whole decision")
	fs.Var(nowFlag{&c.now}, "now", "RFC 3339 time Rego modules see as the current time (time.now_ns), for reproducible verdicts; empty: the real clock")
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err.Error()}
	}
	c.policies, c.insecure, c.images = policies, insecure, fs.Args()
	var err error
	if c.unmatched, err = webhook.ParseAction(unmatched, webhook.Deny, webhook.Warn, webhook.Allow); err != nil {
		return nil, usageError{"--unmatched-images " + err.Error()}
	}
	switch {
	case c.output != "text" && c.output != "json":
		return nil, usageError{fmt.Sprintf("--output %q: use text or json", c.output)}
	case (len(c.images) > 0) == (c.object != ""):
		return nil, usageError{"give IMAGE arguments or --object FILE, one of them"}
	case c.timeout <= 0:
		return nil, usageError{"--timeout must be positive"}
	}
	return c, nil
}

func runVerify(ctx context.Context, c *verifyConfig, stdout io.Writer) error {
	o := offlineOptions{policies: c.policies, insecure: c.insecure, unmatched: c.unmatched, keychain: authn.DefaultKeychain, now: c.now}
	if c.layout != "" {
		rt, err := layout.Serve(c.layout)
		if err != nil {
			return configError{err}
		}
		o.transport, o.keychain = rt, nil
	}
	off, err := newOffline(o)
	if err != nil {
		return err
	}
	data, err := c.objectData()
	if err != nil {
		return configError{err}
	}
	req, err := requestOf(data, c.namespace)
	if err != nil {
		return configError{fmt.Errorf("%s: %w", c.object, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	d, patch := off.decide(ctx, req)
	if c.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			webhook.Decision
			Patch []webhook.PatchOp `json:"patch,omitempty"`
		}{d, patch}); err != nil {
			return err
		}
	} else {
		render(stdout, d, patch)
	}
	if !d.Allowed {
		return errDenied
	}
	return nil
}

func (c *verifyConfig) objectData() ([]byte, error) {
	if c.object == "" {
		return podOf(c.namespace, c.images)
	}
	data, err := os.ReadFile(c.object)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--object %s: no such file", c.object)
	}
	return data, err
}
