// Package attest finds, checks and reads in-toto attestations attached to
// an image: DSSE envelopes in cosign's legacy sha256-<hex>.att manifest,
// and (through package sigstorebundle) sigstore bundles.
//
// Fetch does the I/O; Open and the predicate parsers are pure. Open checks
// what every attestation must satisfy whoever signed it: the envelope's
// payload type is in-toto, the statement names the image digest as a
// subject, and the predicate type is the statement's own (never an
// annotation's). The parsers turn the predicates gatehouse knows (SLSA
// provenance v0.2 and v1, CycloneDX and SPDX SBOMs, cosign vulnerability
// reports and SARIF) into typed values, within size and count limits.
package attest
