// Package notation finds and checks Notary Project signatures (notation
// sign): JWS or COSE envelopes attached to an image as OCI referrers, whose
// payload names the image manifest's descriptor.
//
// Fetch does the I/O through the narrow Source port and trusts nothing the
// registry says about the artifacts: it reads each manifest and keeps those
// that are notary signatures, hold exactly one envelope layer and name the
// image as their subject. Verifier.Check is pure: notation-go's verifier
// checks the envelope against an in-memory trust store and a trust policy
// built once from an authority's configuration, with revocation checking
// wired to answer offline, so nothing reaches the network.
package notation
