// Package verify decides what is true of one image: the digest a reference
// resolves to and which trusted authorities signed it. It returns a Result,
// the one type that flows on to policy, the admission response, metrics and
// the audit log.
//
// The pipeline is resolve (registry), fetch signatures (registry), check
// signatures (pure). Registry I/O lives in verify/registry, format knowledge
// in one package per signature format (verify/cosign, verify/sigstorebundle,
// verify/notation). Each step runs under
// its own deadline inside the caller's.
package verify
