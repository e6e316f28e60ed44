// Package cosign finds and checks cosign signatures stored the legacy way: a
// manifest tagged sha256-<hex>.sig in the image's repository whose layers are
// simple-signing payloads, each with its signature in an annotation.
//
// Fetch does the I/O through the narrow Source port; Check is pure and
// needs nothing but bytes, a key and the digest under verification.
package cosign
