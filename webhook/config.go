package webhook

import (
	admissionv1 "k8s.io/api/admission/v1"

	"fmt"
	"log/slog"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/pullsecrets"
)

// Action is what happens to an image in a situation a policy does not cover.
type Action string

// Actions.
const (
	Deny  Action = "deny"
	Warn  Action = "warn"
	Allow Action = "allow"
)

// ParseAction parses a flag value; allowed lists the accepted actions.
func ParseAction(s string, allowed ...Action) (Action, error) {
	for _, a := range allowed {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("%q: use one of %v", s, allowed)
}

// Config wires an Admitter.
type Config struct {
	Verifier *verify.Verifier
	Policies *policy.Store
	// Keychains gives each pod's pull credentials (nil: anonymous).
	Keychains pullsecrets.Source
	// Unmatched is the action for images no cluster policy matches.
	Unmatched Action
	// InfraFailure is deny (fail closed) or allow (fail open) for
	// inconclusive verification: registry errors, rate limits, timeouts.
	InfraFailure Action
	// Concurrency bounds parallel image verifications per request.
	Concurrency int
	Metrics     *Metrics
	Log         *slog.Logger
	// Events, if set, is told of every denial of a request that is not a
	// dry run, to record it as a Kubernetes Event.
	Events EventSink
}

// EventSink records denials where kubectl shows them. It must not block:
// the admission answer waits for it.
type EventSink interface {
	Denied(req *admissionv1.AdmissionRequest, d *Decision)
}

func (c *Config) validate() error {
	switch {
	case c.Verifier == nil || c.Policies == nil:
		return fmt.Errorf("webhook: Verifier and Policies are required")
	case c.Unmatched != Deny && c.Unmatched != Warn && c.Unmatched != Allow:
		return fmt.Errorf("webhook: unmatched action %q: use deny, warn or allow", c.Unmatched)
	case c.InfraFailure != Deny && c.InfraFailure != Allow:
		return fmt.Errorf("webhook: infra-failure action %q: use deny or allow", c.InfraFailure)
	}
	if c.Keychains == nil {
		c.Keychains = pullsecrets.Anonymous{}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return nil
}
