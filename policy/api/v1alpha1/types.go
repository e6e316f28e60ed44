// Package v1alpha1 holds the Go types of gatehouse's policy API, group
// gatehouse.dev, version v1alpha1. The CRDs in manifests/base/crds are the
// served form of these types; docs/policy-api.md documents them field by field.
package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Group and Version of the policy API.
const (
	Group   = "gatehouse.dev"
	Version = "v1alpha1"
)

// Kinds of the policy API.
const (
	KindClusterImagePolicy = "ClusterImagePolicy"
	KindImagePolicy        = "ImagePolicy"
)

// ClusterImagePolicy is a cluster-scoped policy: the images it matches must
// carry the signatures it names, in every namespace.
type ClusterImagePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ImagePolicySpec `json:"spec"`
	Status            PolicyStatus    `json:"status,omitempty"`
}

// ImagePolicy is a namespaced policy. It applies only to pods of its own
// namespace and can only add requirements: an image must satisfy every
// matching cluster policy and every matching ImagePolicy, and an image that no
// cluster policy matches stays subject to the unmatched-image default.
type ImagePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ImagePolicySpec `json:"spec"`
	Status            PolicyStatus    `json:"status,omitempty"`
}

// PolicyStatus is what gatehouse last observed of a policy. Gatehouse writes
// it; it is never read back as configuration.
type PolicyStatus struct {
	// ObservedGeneration is the metadata.generation of the spec that gatehouse
	// last loaded or refused.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: "Ready" is True when that generation compiled and serves,
	// and False (reason Refused) when it was refused, with the message saying
	// what to fix; the previous good generation, if any, keeps serving.
	// "Compliant" is True when the last revalidation pass found no running
	// pod that the policy fails, and False (reason NonCompliantPods) when it
	// found some, naming up to five of them.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// NonCompliantPods counts the running pods that the policy would now
	// deny, warn about, or fail in audit mode, as of LastRevalidationTime.
	NonCompliantPods *int32 `json:"nonCompliantPods,omitempty"`
	// LastRevalidationTime is when the revalidation pass that counted
	// NonCompliantPods ended.
	LastRevalidationTime *metav1.Time `json:"lastRevalidationTime,omitempty"`
}

// Conditions of a policy's status, and their reasons.
const (
	ConditionReady     = "Ready"
	ConditionCompliant = "Compliant"

	ReasonLoaded           = "Loaded"
	ReasonRefused          = "Refused"
	ReasonAllCompliant     = "NoNonCompliantPods"
	ReasonNonCompliantPods = "NonCompliantPods"
)

// ImagePolicySpec is what both policy kinds require of the images they match.
type ImagePolicySpec struct {
	// Images lists globs over canonical repository names, such as
	// "docker.io/library/nginx" or "registry.example.com/team/**". A glob
	// matches the repository, never the tag or digest.
	Images []ImageGlob `json:"images"`
	// Authorities are the signers this policy trusts. A policy with a Rego
	// module may list none: the module alone then judges the image.
	Authorities []Authority `json:"authorities,omitempty"`
	// Require says how many authorities must have signed: "all" (default)
	// or "any". Use Threshold instead for "at least k of them".
	Require Requirement `json:"require,omitempty"`
	// Threshold, when set, requires signatures from at least this many
	// distinct authorities (k of n), e.g. 2 of 3 release managers. It
	// cannot be combined with Require.
	Threshold *int32 `json:"threshold,omitempty"`
	// Mode is what a failure does: "enforce" (deny, the default), "warn"
	// (admit with a warning) or "audit" (admit, record only).
	Mode Mode `json:"mode,omitempty"`
	// MultiArch says which manifests of a multi-platform image must be
	// signed: "index" (default: the digest the pod names; an index's
	// signature covers its platform images by their digests), "platforms"
	// (every platform image the pod can run, by its nodeSelector and node
	// affinity on kubernetes.io/os and kubernetes.io/arch; linux by default)
	// or "both".
	MultiArch MultiArch `json:"multiArch,omitempty"`
	// PinDigest, when true (the default), makes the mutating webhook rewrite
	// each matched Pod image to repo:tag@sha256:... with the digest that was
	// verified. When false the image is verified but left as written, and the
	// response carries a warning that the tag may move.
	PinDigest *bool `json:"pinDigest,omitempty"`
	// Attestations are in-toto attestations the image must carry, each of
	// one predicate type and signed by one of its own authorities (which
	// need not be the image's signers). Verified attestations reach the Rego
	// module as typed input.
	Attestations []AttestationRequirement `json:"attestations,omitempty"`
	// Rego is a Rego v1 module evaluated for each image the policy matches,
	// once its authorities are satisfied, over the input documented in
	// docs/rego.md. It must define allow; deny and warn are optional sets
	// of messages, returned verbatim.
	Rego *RegoPolicy `json:"rego,omitempty"`
}

// AttestationRequirement asks for one kind of attestation.
type AttestationRequirement struct {
	// Name of the requirement, a DNS label unique among the policy's
	// attestations. Shown in denials.
	Name string `json:"name"`
	// PredicateType is the in-toto predicate type, e.g.
	// "https://slsa.dev/provenance/v1", or one of cosign attest's --type
	// names: slsaprovenance, slsaprovenance02, slsaprovenance1, cyclonedx,
	// spdxjson, vuln.
	PredicateType string `json:"predicateType"`
	// Authorities sign the attestation (any one of them): key or keyless.
	Authorities []Authority `json:"authorities"`
}

// RegoPolicy is a Rego module: inline (Module) or in a ConfigMap
// (ConfigMapRef), exactly one of them.
type RegoPolicy struct {
	// Module is the Rego v1 source.
	Module string `json:"module,omitempty"`
	// ConfigMapRef names a ConfigMap that holds the module; its key must be
	// set. Gatehouse reads it when the policy loads and again every minute.
	ConfigMapRef *ConfigMapKeyRef `json:"configMapRef,omitempty"`
	// Scope is "image" (default: the module runs for each image the policy
	// matches, with input.image) or "pod" (once per request, with
	// input.images holding every image the policy matches, when their
	// signatures and attestations passed).
	Scope RegoScope `json:"scope,omitempty"`
}

// RegoScope says what a Rego module judges.
type RegoScope string

// Scopes.
const (
	RegoScopeImage RegoScope = "image"
	RegoScopePod   RegoScope = "pod"
)

// ImageGlob is one pattern over canonical repository names. "*" matches
// within one path segment, "**" across segments, "?" one character.
type ImageGlob struct {
	Glob string `json:"glob"`
}

// Authority is one trusted signer: set exactly one of Key, Keyless and
// Notation.
type Authority struct {
	// Name identifies the authority in messages, metrics and audit records.
	Name string `json:"name"`
	// Key trusts cosign signatures made with one key.
	Key *KeyAuthority `json:"key,omitempty"`
	// Keyless trusts cosign keyless signatures (v3 bundles and the v2 .sig
	// format) made with a certificate issued to one of the given identities.
	Keyless *KeylessAuthority `json:"keyless,omitempty"`
	// Notation trusts Notary Project signatures (notation sign): JWS or
	// COSE envelopes signed with an X.509 certificate.
	Notation *NotationAuthority `json:"notation,omitempty"`
}

// KeyAuthority trusts cosign signatures made with a key pair. Give the
// public key inline (Data) or in a Secret (SecretRef), not both.
type KeyAuthority struct {
	// Data is the PEM-encoded public key (ECDSA, RSA or Ed25519).
	Data string `json:"data,omitempty"`
	// SecretRef names a Secret that holds the PEM-encoded public key.
	// Gatehouse reads it when the policy loads and again every minute.
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`
	// HashAlgorithm is the digest the signature was made over: sha256
	// (default), sha384 or sha512.
	HashAlgorithm string `json:"hashAlgorithm,omitempty"`
}

// SecretKeyRef names one key of a Secret.
type SecretKeyRef struct {
	// Namespace of the Secret. Required for a ClusterImagePolicy; an
	// ImagePolicy may only name its own namespace, the default.
	Namespace string `json:"namespace,omitempty"`
	// Name of the Secret.
	Name string `json:"name"`
	// Key is the data key holding the PEM public key (default "cosign.pub").
	Key string `json:"key,omitempty"`
}

// KeylessAuthority trusts cosign keyless signatures (sigstore bundles of
// cosign v3, and the .sig format of cosign v2) whose certificate was issued
// by a certificate authority of the trusted root to one of the identities.
type KeylessAuthority struct {
	// Identities a signing certificate must match (any one of them).
	Identities []Identity `json:"identities"`
	// TrustedRoot is a sigstore trusted_root.json: Fulcio CAs, Rekor and
	// CT log keys, timestamp authorities. Nothing is fetched from the network.
	TrustedRoot TrustedRootSource `json:"trustedRoot"`
	// TransparencyLogThreshold is how many distinct transparency logs of the
	// trusted root must hold a verified entry of the signature (default 1).
	// 0 requires an RFC 3161 signed timestamp instead, for deployments
	// without a log. When the trusted root lists CT logs, the certificate
	// must also carry a signed certificate timestamp.
	TransparencyLogThreshold *int32 `json:"transparencyLogThreshold,omitempty"`
}

// Identity is who a signing certificate must have been issued to. Set the
// issuer exactly or by issuerRegExp, and the subject exactly or by
// subjectRegExp. A regular expression must match the whole value: it starts
// with ^ and ends with $, or the policy is refused.
type Identity struct {
	// Issuer is the exact OIDC issuer, e.g. https://token.actions.githubusercontent.com.
	Issuer string `json:"issuer,omitempty"`
	// IssuerRegExp matches the OIDC issuer (Go RE2 syntax, anchored ^...$).
	IssuerRegExp string `json:"issuerRegExp,omitempty"`
	// Subject is the exact subject alternative name of the certificate: an
	// email address, or a URI such as
	// https://github.com/org/repo/.github/workflows/release.yaml@refs/heads/main.
	Subject string `json:"subject,omitempty"`
	// SubjectRegExp matches the subject (Go RE2 syntax, anchored ^...$).
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}

// TrustedRootSource gives a trusted root inline (Data), in a ConfigMap
// (ConfigMapRef), as certificates and keys you bring (PEM), or as a TUF
// repository (TUF): exactly one.
type TrustedRootSource struct {
	// Data is the trusted_root.json document itself.
	Data string `json:"data,omitempty"`
	// ConfigMapRef names a ConfigMap that holds the trusted_root.json.
	// Gatehouse reads it when the policy loads and again every minute.
	ConfigMapRef *ConfigMapKeyRef `json:"configMapRef,omitempty"`
	// PEM builds the trusted root from certificates and public keys you
	// bring, for a private Sigstore deployment without a trusted_root.json.
	PEM *TrustedRootPEM `json:"pem,omitempty"`
	// TUF reads the trusted root from a serialized TUF repository (a copy
	// of Sigstore's, or a private one), verified offline from its initial
	// root.json.
	TUF *TrustedRootTUF `json:"tuf,omitempty"`
}

// TrustedRootTUF is a serialized TUF repository: its trust anchor and a tar
// archive of the repository, inline (Mirror) or in a ConfigMap
// (MirrorConfigMapRef), not both. Its metadata must not have expired:
// refresh the mirror before the timestamp metadata expires.
type TrustedRootTUF struct {
	// Root is the repository's initial root.json, the trust anchor. Newer
	// root versions in the mirror count only when this one's keys sign them.
	Root string `json:"root"`
	// Mirror is the repository as a base64 tar archive, gzip-compressed or
	// not (tar -C repository -czf mirror.tar.gz . and base64 -w0).
	Mirror string `json:"mirror,omitempty"`
	// MirrorConfigMapRef names the ConfigMap key holding the archive (binary
	// data, as kubectl create configmap --from-file stores it; default key
	// "mirror.tar.gz"). Read when the policy loads and again every minute.
	MirrorConfigMapRef *ConfigMapKeyRef `json:"mirrorConfigMapRef,omitempty"`
	// Target names the trusted root among the repository's targets
	// (default "trusted_root.json").
	Target string `json:"target,omitempty"`
}

// TrustedRootPEM is a trusted root given as PEM certificates and keys. Its
// authorities and logs are trusted at any time: give a trusted_root.json
// to bound them to validity periods.
type TrustedRootPEM struct {
	// CertificateAuthorities lists the certificate authorities (Fulcio)
	// that issue signing certificates, each as its PEM chain: intermediates
	// first, the root last. At least one.
	CertificateAuthorities []string `json:"certificateAuthorities"`
	// TimestampAuthorities lists RFC 3161 timestamp authorities, each as its
	// PEM chain: the signing certificate first, the root last.
	TimestampAuthorities []string `json:"timestampAuthorities,omitempty"`
	// TransparencyLogs lists the PEM public keys of transparency logs
	// (Rekor v1) whose entries count toward transparencyLogThreshold.
	TransparencyLogs []string `json:"transparencyLogs,omitempty"`
	// CTLogs lists the PEM public keys of certificate transparency logs.
	// When set, a signing certificate must carry a signed certificate
	// timestamp of one of them.
	CTLogs []string `json:"ctLogs,omitempty"`
}

// ConfigMapKeyRef names one key of a ConfigMap.
type ConfigMapKeyRef struct {
	// Namespace of the ConfigMap. Required for a ClusterImagePolicy; an
	// ImagePolicy may only name its own namespace, the default.
	Namespace string `json:"namespace,omitempty"`
	// Name of the ConfigMap.
	Name string `json:"name"`
	// Key is the data key (default "trusted_root.json" for a trusted root,
	// "mirror.tar.gz" for a TUF mirror).
	Key string `json:"key,omitempty"`
}

// NotationAuthority trusts Notary Project signatures attached to the image
// as OCI referrers, verified as notation verify would under a trust policy
// with one statement: these trust stores, these identities, this level.
// Revocation is checked against the CRLs given here, and only those:
// nothing is fetched from the network (no OCSP, no CRL download).
type NotationAuthority struct {
	// TrustStores hold the trusted certificates: at least one store of type
	// ca or signingAuthority, and tsa stores to trust RFC 3161 timestamps.
	TrustStores []NotationTrustStore `json:"trustStores"`
	// TrustedIdentities are the X.509 subjects a signing certificate may
	// have (any one of them), in the Notary Project form, e.g.
	// "x509.subject: C=US, ST=WA, O=example, CN=release". "*" is refused:
	// it would let anyone holding a certificate from the stores sign.
	TrustedIdentities []string `json:"trustedIdentities"`
	// Level is the Notary Project verification level: "strict" (default:
	// integrity, authenticity, expiry and the authentic timestamp are
	// enforced) or "permissive" (expiry and the authentic timestamp are
	// only logged). "audit" and "skip" are refused: neither checks who signed.
	Level string `json:"level,omitempty"`
	// CRLs are certificate revocation lists of the CAs that issue signing
	// and timestamping certificates (roots and intermediates). With any,
	// revocation is enforced at both levels: a signature is refused when
	// the newest CRL its issuer signed lists a certificate of its chain, or
	// when that CRL is past its nextUpdate or not signed by the issuer (the
	// status is then unknown, and unknown fails closed). A certificate
	// whose issuer has no CRL here is not checked. Distribution points and
	// OCSP responders are never contacted. Re-read every minute.
	CRLs []NotationCRL `json:"crls,omitempty"`
}

// NotationCRL is a source of certificate revocation lists: inline PEM
// (CRL), a Secret (SecretRef) or a ConfigMap (ConfigMapRef), exactly one of
// them. A Secret or ConfigMap key may hold PEM "X509 CRL" blocks or one
// DER-encoded CRL (in a ConfigMap, as binaryData). Every CRL must have a
// nextUpdate.
type NotationCRL struct {
	// CRL holds PEM-encoded CRLs ("-----BEGIN X509 CRL-----").
	CRL string `json:"crl,omitempty"`
	// SecretRef names a Secret that holds the CRLs; its key must be set.
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`
	// ConfigMapRef names a ConfigMap that holds the CRLs; its key must be set.
	ConfigMapRef *ConfigMapKeyRef `json:"configMapRef,omitempty"`
}

// NotationTrustStore is one named store of trusted certificates. Give the
// PEM certificates inline (Certificates), in a Secret (SecretRef) or in a
// ConfigMap (ConfigMapRef): exactly one of them.
type NotationTrustStore struct {
	// Type is "ca" (certificate authorities of notary.x509 signatures),
	// "signingAuthority" (notary.x509.signingAuthority signatures) or "tsa"
	// (root certificates of RFC 3161 timestamp authorities).
	Type string `json:"type"`
	// Name of the store, unique among the stores of its type.
	Name string `json:"name"`
	// Certificates are the PEM-encoded certificates of the store.
	Certificates string `json:"certificates,omitempty"`
	// SecretRef names a Secret that holds the PEM certificates; its key must
	// be set. Gatehouse reads it when the policy loads and again every minute.
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`
	// ConfigMapRef names a ConfigMap that holds the PEM certificates; its
	// key must be set. Gatehouse reads it when the policy loads and again
	// every minute.
	ConfigMapRef *ConfigMapKeyRef `json:"configMapRef,omitempty"`
}

// Requirement says how many of a policy's authorities must have signed.
type Requirement string

// Requirements.
const (
	RequireAll Requirement = "all"
	RequireAny Requirement = "any"
)

// MultiArch says which manifests of a multi-platform image must be signed.
type MultiArch string

// MultiArch values.
const (
	MultiArchIndex     MultiArch = "index"
	MultiArchPlatforms MultiArch = "platforms"
	MultiArchBoth      MultiArch = "both"
)

// Mode is what a policy failure does to the admission request.
type Mode string

// Modes.
const (
	ModeEnforce Mode = "enforce"
	ModeWarn    Mode = "warn"
	ModeAudit   Mode = "audit"
)
