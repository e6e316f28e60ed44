package verify

import (
	"strings"
	"time"
)

// Result is what gatehouse established about one image. It is JSON-tagged
// because it is also the per-image part of the audit record and, later, of
// the policy input.
type Result struct {
	// Image is the reference as written in the object.
	Image string `json:"image"`
	// Repository is the canonical repository name policies match on,
	// e.g. docker.io/library/nginx.
	Repository string `json:"repository,omitempty"`
	// Tag is the tag written in the reference, if any, also beside a
	// digest (repo:tag@sha256:...).
	Tag string `json:"tag,omitempty"`
	// Digest is the manifest digest the reference resolved to, computed from
	// the bytes received, or the digest written in the reference.
	Digest string `json:"digest,omitempty"`
	// Pinned is true when the reference already named the digest.
	Pinned bool `json:"pinned"`
	// SignaturesFound counts signatures attached to the digest, verified or not.
	SignaturesFound int `json:"signaturesFound"`
	// Signatures lists the signatures that verified, one per authority.
	Signatures []Signature `json:"signatures"`
	// Rejected lists signatures of an authority's signer that were refused
	// for a reason the signer must act on, such as a revoked certificate.
	Rejected []Rejection `json:"rejected,omitempty"`
	// Config is the image configuration, when the request asked for it.
	Config *ImageConfig `json:"config,omitempty"`
	// ConfigError says why the configuration could not be read. It fails
	// only the policies whose Rego module would have read it, so that an
	// image's own failures (unsigned...) still speak first.
	ConfigError *Error `json:"configError,omitempty"`
	// Attestations lists the attestations that verified, for the checks
	// the request asked for.
	Attestations []Attestation `json:"attestations,omitempty"`
	// AttestationsFound counts the attestations attached to the digest
	// per predicate type they claim, verified or not.
	AttestationsFound map[string]int `json:"attestationsFound,omitempty"`
	// Error is set when the image could not be resolved or its signatures
	// not fetched; Signatures is then empty.
	Error *Error `json:"error,omitempty"`
	// Cached is true when the result came from the verification cache.
	Cached bool `json:"cached"`
	// Index is true when the digest names an image index (multi-platform).
	Index bool `json:"index,omitempty"`
	// Platforms holds the runnable platform images of an index, when the
	// request asked for them.
	Platforms []PlatformResult `json:"platforms,omitempty"`
}

// Signature is one verified signature.
type Signature struct {
	// Authority is the ID of the authority whose key or identity verified it.
	Authority string `json:"authority"`
	// Type is the signature scheme, e.g. "cosign-key",
	// "cosign-keyless-bundle" or "notation".
	Type string `json:"type"`
	// KeyID identifies the key: sha256 of its PKIX encoding. Empty for
	// keyless signatures.
	KeyID string `json:"keyID,omitempty"`
	// Certificate is the identity in the signing certificate of a keyless
	// signature.
	Certificate *Certificate `json:"certificate,omitempty"`
	// LogEntries are the transparency log entries of a keyless signature
	// that verified.
	LogEntries []LogEntry `json:"logEntries,omitempty"`
	// Timestamps are the verified times at which the signing certificate
	// of a keyless signature was checked: log entry times and RFC 3161
	// timestamps.
	Timestamps []Timestamp `json:"timestamps,omitempty"`
	// Notation is the signer of a notation signature.
	Notation *NotationSignature `json:"notation,omitempty"`
}

// Certificate is what a Fulcio signing certificate says about its holder.
// Subject and Issuer are always set; the others come from Fulcio's
// certificate extensions and are empty when the issuer did not set them
// (the GitHub ones are set for GitHub Actions workflows).
type Certificate struct {
	// Subject is the subject alternative name: an email address or a URI,
	// such as https://github.com/org/repo/.github/workflows/release.yaml@refs/heads/main.
	Subject string `json:"subject"`
	// Issuer is the OIDC issuer that vouched for the subject, such as
	// https://token.actions.githubusercontent.com.
	Issuer string `json:"issuer"`
	// GitHubWorkflowRepository is the repository the workflow ran in (org/repo).
	GitHubWorkflowRepository string `json:"githubWorkflowRepository,omitempty"`
	// GitHubWorkflowRef is the git ref the workflow ran on (refs/heads/main).
	GitHubWorkflowRef string `json:"githubWorkflowRef,omitempty"`
	// GitHubWorkflowName is the workflow's name.
	GitHubWorkflowName string `json:"githubWorkflowName,omitempty"`
	// GitHubWorkflowSHA is the commit the workflow ran on.
	GitHubWorkflowSHA string `json:"githubWorkflowSHA,omitempty"`
	// GitHubWorkflowTrigger is the event that started the workflow (push, release...).
	GitHubWorkflowTrigger string `json:"githubWorkflowTrigger,omitempty"`
	// SourceRepositoryURI is the source repository the build ran from.
	SourceRepositoryURI string `json:"sourceRepositoryURI,omitempty"`
	// SourceRepositoryRef is the source ref the build ran from.
	SourceRepositoryRef string `json:"sourceRepositoryRef,omitempty"`
	// SourceRepositoryDigest is the source commit the build ran from.
	SourceRepositoryDigest string `json:"sourceRepositoryDigest,omitempty"`
	// BuildSignerURI is the build instructions that signed (the workflow file at a ref).
	BuildSignerURI string `json:"buildSignerURI,omitempty"`
	// BuildTrigger is the event that started the build.
	BuildTrigger string `json:"buildTrigger,omitempty"`
	// RunInvocationURI is the build run that signed.
	RunInvocationURI string `json:"runInvocationURI,omitempty"`
	// RunnerEnvironment is github-hosted or self-hosted.
	RunnerEnvironment string `json:"runnerEnvironment,omitempty"`
}

// LogEntry is one transparency log entry.
type LogEntry struct {
	// LogID is the hex SHA-256 of the log's public key.
	LogID string `json:"logID"`
	// Index is the entry's index in the log.
	Index int64 `json:"index"`
	// IntegratedTime is when the log recorded the entry, if it says.
	IntegratedTime *time.Time `json:"integratedTime,omitempty"`
}

// Timestamp is one verified time of a signature.
type Timestamp struct {
	// Source is "tlog" (a log entry's signed time) or "tsa" (an RFC 3161
	// timestamp authority).
	Source string `json:"source"`
	// URI is the log's or the authority's, as the trusted root names it.
	URI  string    `json:"uri,omitempty"`
	Time time.Time `json:"time"`
}

// Rejection is a signature an authority would have accepted but for a
// reason its signer must act on.
type Rejection struct {
	// Authority is the ID of the authority that refused it.
	Authority string `json:"authority"`
	// Message says why, e.g. which certificate a CRL revokes.
	Message string `json:"message"`
}

// SignedBy reports whether an authority's signature verified.
func (r *Result) SignedBy(authorityID string) bool {
	for _, s := range r.Signatures {
		if s.Authority == authorityID {
			return true
		}
	}
	return false
}

// PinnedReference returns the reference to run: the image as written with
// the verified digest appended (repo:tag@sha256:...), or as written when it
// already names a digest.
func (r *Result) PinnedReference() string {
	if r.Pinned || r.Digest == "" {
		return r.Image
	}
	return strings.TrimSpace(r.Image) + "@" + r.Digest
}
