package verify

import "fmt"

// Reason classifies why an image was not admitted. Reasons are the label
// values of gatehouse's metrics and the reason field of audit records, so the
// set is closed and small.
type Reason string

// Reasons. The comment says whether the failure is definitive (the image
// does not meet the policy) or inconclusive (gatehouse could not find out).
const (
	ReasonUnsigned           Reason = "unsigned"              // definitive: no signature at all
	ReasonUntrustedSigner    Reason = "untrusted-signer"      // definitive: signatures, none from the authority
	ReasonImageNotFound      Reason = "image-not-found"       // definitive: the registry has no such manifest
	ReasonInvalidArtifact    Reason = "invalid-artifact"      // definitive: oversized, malformed or mismatching content
	ReasonUnmatchedImage     Reason = "unmatched-image"       // definitive: no policy matches, default is deny
	ReasonAttestationMissing Reason = "attestation-missing"   // definitive: no verified attestation of a required type
	ReasonRegoDeny           Reason = "rego-deny"             // definitive: a policy's Rego module denied or reached no decision
	ReasonBadRequest         Reason = "bad-request"           // definitive: malformed request or reference
	ReasonRegistryError      Reason = "registry-error"        // inconclusive: network, 5xx, auth
	ReasonRegistryRateLimit  Reason = "registry-rate-limited" // inconclusive: 429
	ReasonTimeout            Reason = "timeout"               // inconclusive: deadline passed
	ReasonInternal           Reason = "internal"              // inconclusive: a bug in gatehouse
)

// Reasons lists every Reason, for metrics and documentation.
var Reasons = []Reason{
	ReasonUnsigned, ReasonUntrustedSigner, ReasonImageNotFound, ReasonInvalidArtifact,
	ReasonUnmatchedImage, ReasonAttestationMissing, ReasonRegoDeny, ReasonBadRequest, ReasonRegistryError, ReasonRegistryRateLimit,
	ReasonTimeout, ReasonInternal,
}

// Inconclusive reports whether r means gatehouse could not decide (as
// opposed to: the image failed). Only inconclusive failures may fail open.
func (r Reason) Inconclusive() bool {
	switch r {
	case ReasonRegistryError, ReasonRegistryRateLimit, ReasonTimeout, ReasonInternal:
		return true
	}
	return false
}

// Infrastructure reports whether r is a failure of the registry or the
// network, the only failures gatehouse may be configured to fail open on.
// Internal errors are inconclusive but never infrastructure: a bug in
// gatehouse must not admit an image.
func (r Reason) Infrastructure() bool {
	switch r {
	case ReasonRegistryError, ReasonRegistryRateLimit, ReasonTimeout:
		return true
	}
	return false
}

// Error is a classified verification failure.
type Error struct {
	Reason  Reason `json:"reason"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Message) }

func failf(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Message: fmt.Sprintf(format, args...)}
}
