package migrate

import (
	"fmt"
	"regexp/syntax"

	pcv1alpha1 "github.com/sigstore/policy-controller/pkg/apis/policy/v1alpha1"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

func (c *converter) keyless(at string, a pcv1alpha1.Authority) (*v1alpha1.KeylessAuthority, bool) {
	k, kat := a.Keyless, at+".keyless"
	root, ok := c.trustedRoot(kat, k.TrustRootRef)
	if !ok {
		return nil, false
	}
	ids := c.identities(kat, k.Identities)
	logs := c.logThreshold(at, a)
	out := &v1alpha1.KeylessAuthority{
		Identities:               ids,
		TrustedRoot:              v1alpha1.TrustedRootSource{ConfigMapRef: root},
		TransparencyLogThreshold: &logs,
	}
	if k.URL != nil {
		c.res.note(Ignored, kat+".url", "the Fulcio address (%s): gatehouse trusts the certificate authorities of the trusted root and contacts nothing", k.URL)
	}
	if k.CACert != nil {
		c.res.note(Dropped, kat+".ca-cert", "policy-controller v0.13.1 never reads it: certificates are checked against the certificate authorities of the TrustRoot, or of Sigstore's public instance without one (pkg/webhook/validator.go), and so they are here; to trust your own CA, list it in the trusted root")
	}
	if k.InsecureIgnoreSCT != nil && *k.InsecureIgnoreSCT {
		c.res.note(Changed, kat+".insecureIgnoreSCT", "gatehouse requires a signed certificate timestamp whenever the trusted root lists CT logs; to accept certificates without one, give a trusted root without ctlogs (stricter)")
	}
	return out, true
}

// trustedRoot returns the ConfigMap holding the trusted root of a keyless
// authority: Sigstore's public instance without trustRootRef, else the
// named TrustRoot's.
func (c *converter) trustedRoot(kat, trustRootRef string) (*v1alpha1.ConfigMapKeyRef, bool) {
	if trustRootRef == "" {
		if c.opts.PublicTrustedRoot == nil {
			c.res.note(Dropped, kat, "without trustRootRef it trusts Sigstore's public instance, whose trusted root policy-controller fetches by TUF; gatehouse fetches nothing: name a ConfigMap holding that trusted_root.json with --trusted-root-configmap namespace/name/key. Authority left out (stricter)")
			return nil, false
		}
		ref := *c.opts.PublicTrustedRoot
		c.res.note(Mapped, kat, "Sigstore's public instance: trusted root from ConfigMap %s", describe(ref))
		return &ref, true
	}
	ref, ok := c.opts.TrustRoots[trustRootRef]
	if !ok {
		c.res.note(Dropped, kat+".trustRootRef", "TrustRoot %q: gatehouse reads trusted roots from ConfigMaps; export its trusted_root.json into one and name it with --trusted-root-configmap %s=namespace/name/key. Authority left out (stricter)", trustRootRef, trustRootRef)
		return nil, false
	}
	c.res.note(Mapped, kat+".trustRootRef", "TrustRoot %q: trusted root from ConfigMap %s, which must hold that TrustRoot's trusted_root.json", trustRootRef, describe(ref))
	return &ref, true
}

func describe(ref v1alpha1.ConfigMapKeyRef) string {
	key := ref.Key
	if key == "" {
		key = "trusted_root.json"
	}
	return ref.Namespace + "/" + ref.Name + " key " + key
}

// logThreshold follows checkOptsFromAuthority and
// rekorClientAndKeysFromAuthority of policy-controller's validator: when it
// requires a transparency log entry, and when an RFC 3161 timestamp
// instead.
func (c *converter) logThreshold(at string, a pcv1alpha1.Authority) int32 {
	k, tsa, tlog := a.Keyless, a.RFC3161Timestamp, a.CTLog
	if a.SignatureFormat == "bundle" {
		return c.bundleLogThreshold(at, a)
	}
	if tsa != nil && tsa.TrustRootRef != "" {
		if tsa.TrustRootRef != k.TrustRootRef {
			c.res.note(Changed, at+".rfc3161timestamp.trustRootRef", "policy-controller took the timestamp authorities from TrustRoot %q: review that the trusted root named here lists them too", tsa.TrustRootRef)
		}
		c.res.note(Mapped, at+".rfc3161timestamp", "an RFC 3161 timestamp is required instead of a log entry, as policy-controller skips the log then: transparencyLogThreshold 0")
		return 0
	}
	switch {
	case tlog == nil && k.TrustRootRef == "":
		c.res.note(Mapped, at+".keyless", "an entry in the Rekor log is required, as policy-controller requires by default: transparencyLogThreshold 1")
		return 1
	case tlog == nil || (tlog.URL == nil && tlog.TrustRootRef == ""):
		c.res.note(Changed, at+".ctlog", "policy-controller skipped the transparency log here (a trustRootRef without ctlog, or an empty ctlog) and checked the certificate against the current time; gatehouse needs a log entry or a signed timestamp: transparencyLogThreshold 0, so an RFC 3161 timestamp from a timestamp authority of the trusted root is now required (stricter)")
		return 0
	}
	if tlog.URL != nil {
		c.res.note(Ignored, at+".ctlog.url", "the Rekor address (%s): gatehouse verifies log entries offline with the log keys of the trusted root", tlog.URL)
	}
	if tlog.TrustRootRef != k.TrustRootRef {
		c.res.note(Changed, at+".ctlog", "policy-controller took the log keys from %s and the certificate authorities from %s: review that the trusted root named here lists both", trustRootName(tlog.TrustRootRef), trustRootName(k.TrustRootRef))
	}
	c.res.note(Mapped, at+".ctlog", "an entry in the Rekor log is required: transparencyLogThreshold 1")
	return 1
}

// bundleLogThreshold is logThreshold for signatureFormat bundle, where
// policy-controller verifies with sigstore-go against one trusted root.
func (c *converter) bundleLogThreshold(at string, a pcv1alpha1.Authority) int32 {
	if a.RFC3161Timestamp != nil {
		c.res.note(Mapped, at+".rfc3161timestamp", "an RFC 3161 timestamp is required instead of a log entry: transparencyLogThreshold 0")
		return 0
	}
	c.res.note(Mapped, at+".keyless", "an entry in the Rekor log is required, as policy-controller requires by default: transparencyLogThreshold 1")
	return 1
}

// bundleNeverPasses reports whether policy-controller refuses the
// authority at every verification: with signatureFormat bundle, a key, or
// a ctlog or rfc3161timestamp from another TrustRoot than the keyless one.
func bundleNeverPasses(a pcv1alpha1.Authority) bool {
	if a.SignatureFormat != "bundle" {
		return false
	}
	if a.Keyless == nil {
		return true
	}
	ref, tsa, tlog := a.Keyless.TrustRootRef, a.RFC3161Timestamp, a.CTLog
	return (tsa != nil && tsa.TrustRootRef != ref) || (tlog != nil && tlog.TrustRootRef != ref)
}

func trustRootName(ref string) string {
	if ref == "" {
		return "Sigstore's public instance"
	}
	return fmt.Sprintf("TrustRoot %q", ref)
}

// identities converts the identities, anchoring regular expressions:
// policy-controller (cosign) matches them anywhere in the value, gatehouse
// only over the whole value.
func (c *converter) identities(kat string, in []pcv1alpha1.Identity) []v1alpha1.Identity {
	c.res.note(Mapped, kat+".identities", "%d, any one suffices", len(in))
	out := make([]v1alpha1.Identity, len(in))
	for j, id := range in {
		field := fmt.Sprintf("%s.identities[%d]", kat, j)
		out[j] = v1alpha1.Identity{
			Issuer:        id.Issuer,
			IssuerRegExp:  c.anchor(field+".issuerRegExp", id.IssuerRegExp),
			Subject:       id.Subject,
			SubjectRegExp: c.anchor(field+".subjectRegExp", id.SubjectRegExp),
		}
	}
	return out
}

func (c *converter) anchor(field, re string) string {
	if re == "" || anchored(re) {
		return re
	}
	wrapped := "^(?:" + re + ")$"
	c.res.note(Changed, field, "'%s' matched anywhere in the value; gatehouse matches whole values, so it is now '%s' and accepts fewer identities (stricter): check that it covers the whole value", re, wrapped)
	return wrapped
}

// anchored reports whether re must match the whole value: ^ first and $
// last at the top level, as gatehouse requires.
func anchored(re string) bool {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return false
	}
	subs := []*syntax.Regexp{parsed}
	if parsed.Op == syntax.OpConcat {
		subs = parsed.Sub
	}
	return len(subs) >= 2 && subs[0].Op == syntax.OpBeginText && subs[len(subs)-1].Op == syntax.OpEndText
}
