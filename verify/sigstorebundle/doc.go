// Package sigstorebundle finds and checks cosign v3 signatures: sigstore
// bundles (v0.3) holding a DSSE envelope whose in-toto statement names the
// image digest as its subject and https://sigstore.dev/cosign/sign/v1 as its
// predicate type, attached to the image as OCI 1.1 referrers (or through the
// referrers tag fallback).
//
// Fetch does the I/O through the narrow Source port and trusts nothing the
// registry says about the artifacts: it reads each manifest and keeps those
// that hold exactly one bundle layer and name the image as their subject.
// Check (key signatures) and Keyless.Check (keyless signatures: Fulcio
// certificates, transparency log entries and timestamps checked against a
// trusted root) are pure: sigstore-go verifies the envelope against the
// trusted material and the statement's subject against the digest.
package sigstorebundle
