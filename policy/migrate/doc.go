// Package migrate converts sigstore policy-controller ClusterImagePolicies
// (policy.sigstore.dev v1alpha1 and v1beta1, as of policy-controller
// v0.13.1) into gatehouse ClusterImagePolicies, and reports for each one what
// mapped exactly, what changed meaning and what could not be mapped.
//
// The rules follow policy-controller's own source, not only its API
// comments: how its globs match, when it requires a transparency log entry,
// which fields it never reads. docs/migrate.md lists them.
//
// This package imports policy-controller's API types, which pull in the
// cloud KMS SDKs. Only cmd/gatehouse-migrate may import it: the webhook
// binary must stay free of them (a test of cmd/gatehouse-migrate checks).
package migrate
