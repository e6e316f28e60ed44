// Package registry fetches OCI manifests and blobs for verification. It only
// fetches: every read is capped, every digest is computed from the bytes
// received, credentials never leave the host they were issued for, and every
// failure is an *Error whose Kind says whether a retry could help.
package registry
