package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"

	pcv1alpha1 "github.com/sigstore/policy-controller/pkg/apis/policy/v1alpha1"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// authorities converts the authorities of a policy. In policy-controller
// any one of them suffices (require: any); one that cannot be converted is
// left out, which makes the policy stricter, never looser.
func (c *converter) authorities(in []pcv1alpha1.Authority) []v1alpha1.Authority {
	var out []v1alpha1.Authority
	names := map[string]bool{}
	signers := map[string]v1alpha1.Authority{}
	for i, a := range in {
		at := fmt.Sprintf("spec.authorities[%d]", i)
		conv, ok := c.authority(at, a)
		if !ok {
			continue
		}
		signer := signerOf(conv)
		if other, dup := signers[signer]; dup {
			c.duplicate(at, conv, other)
			continue
		}
		conv.Name = c.name(at, a.Name, i, names)
		signers[signer] = conv
		out = append(out, conv)
	}
	return out
}

// duplicate notes an authority left out because gatehouse refuses one
// signer twice in a policy.
func (c *converter) duplicate(at string, a, first v1alpha1.Authority) {
	if a.Key != nil && first.Key != nil && hashName(a.Key.HashAlgorithm) != hashName(first.Key.HashAlgorithm) {
		c.res.note(Changed, at, "the same key as authority %q with hash algorithm %s instead of %s; gatehouse trusts a key once, with one hash algorithm: left out (stricter)", first.Name, hashName(a.Key.HashAlgorithm), hashName(first.Key.HashAlgorithm))
		return
	}
	c.res.note(Ignored, at, "the same signer as authority %q, which suffices on its own: left out (gatehouse refuses one signer twice)", first.Name)
}

func hashName(h string) string {
	if h == "" {
		return "sha256"
	}
	return h
}

func (c *converter) authority(at string, a pcv1alpha1.Authority) (v1alpha1.Authority, bool) {
	switch {
	case a.Static != nil:
		c.static(at, a.Static)
		return v1alpha1.Authority{}, false
	case len(a.Attestations) > 0:
		c.res.note(Dropped, at+".attestations", "policy-controller checked this authority's attestations (and their policies) instead of the image signature; gatehouse does not verify attestations yet (planned): authority left out (stricter)")
		return v1alpha1.Authority{}, false
	case bundleNeverPasses(a):
		c.res.note(Ignored, at+".signatureFormat", "bundle: policy-controller refuses it with a key, or with a ctlog or rfc3161timestamp trustRootRef other than the keyless one, at every verification; this authority never passed: left out")
		return v1alpha1.Authority{}, false
	case !c.sources(at, a.Sources):
		return v1alpha1.Authority{}, false
	}
	if a.SignatureFormat != "" {
		c.res.note(Ignored, at+".signatureFormat", "%s: gatehouse accepts the authority's signatures in both formats, legacy (.sig) and sigstore bundle", a.SignatureFormat)
	}
	switch {
	case a.Key != nil:
		k, ok := c.key(at, a)
		return v1alpha1.Authority{Key: k}, ok
	case a.Keyless != nil:
		k, ok := c.keyless(at, a)
		return v1alpha1.Authority{Keyless: k}, ok
	}
	c.res.note(Dropped, at, "no key, keyless or static: left out")
	return v1alpha1.Authority{}, false
}

func (c *converter) static(at string, s *pcv1alpha1.StaticRef) {
	if s.Action == "fail" {
		c.res.note(Ignored, at+".static", "fail: never passes, so where any one authority suffices it adds nothing; left out")
		return
	}
	c.res.note(Dropped, at+".static", "%s: admitted every image the policy matched without a signature; gatehouse has no such authority: left out (stricter)", s.Action)
}

// sources reports whether the authority's signatures can be found where
// gatehouse looks: the image's own repository.
func (c *converter) sources(at string, sources []pcv1alpha1.Source) bool {
	for j, s := range sources {
		field := fmt.Sprintf("%s.source[%d]", at, j)
		switch {
		case s.OCI != "":
			c.res.note(Dropped, field+".oci", "signatures were read from %s; gatehouse reads them from the image's own repository only: authority left out (stricter)", s.OCI)
			return false
		case s.TagPrefix != nil && *s.TagPrefix != "":
			c.res.note(Dropped, field+".tagPrefix", "signatures were tagged with the prefix %q; gatehouse reads cosign's standard tags and referrers only: authority left out (stricter)", *s.TagPrefix)
			return false
		case len(s.SignaturePullSecrets) > 0:
			c.res.note(Changed, field+".signaturePullSecrets", "gatehouse reads signatures with the pod's imagePullSecrets and service account instead; if those cannot read them, the image is denied as inconclusive (stricter)")
		}
	}
	return true
}

func (c *converter) key(at string, a pcv1alpha1.Authority) (*v1alpha1.KeyAuthority, bool) {
	k, out := a.Key, &v1alpha1.KeyAuthority{}
	switch hash := strings.ToLower(strings.TrimSpace(k.HashAlgorithm)); hash {
	case "", "sha256", "sha384", "sha512":
		out.HashAlgorithm = hash
	default:
		c.res.note(Dropped, at+".key.hashAlgorithm", "%s: gatehouse verifies sha256, sha384 and sha512 only: authority left out (stricter)", k.HashAlgorithm)
		return nil, false
	}
	switch {
	case k.KMS != "":
		c.res.note(Dropped, at+".key.kms", "gatehouse reads no KMS: export the public key (cosign public-key --key %s) into key.data; authority left out (stricter)", k.KMS)
		return nil, false
	case k.SecretRef != nil:
		ns := k.SecretRef.Namespace
		if ns == "" {
			ns = c.opts.SecretNamespace
		}
		out.SecretRef = &v1alpha1.SecretKeyRef{Namespace: ns, Name: k.SecretRef.Name, Key: "cosign.pub"}
		c.res.note(Mapped, at+".key.secretRef", "Secret %s/%s, data key cosign.pub: policy-controller read the Secret's only entry whatever its name, gatehouse reads cosign.pub (and refuses the policy, listing the keys it found, if it is missing)", ns, k.SecretRef.Name)
	default:
		out.Data = k.Data
		c.res.note(Mapped, at+".key.data", "inline public key")
	}
	c.keyLogs(at, a)
	return out, true
}

// keyLogs notes the log and timestamp checks policy-controller made of key
// signatures, which gatehouse key authorities do not make.
func (c *converter) keyLogs(at string, a pcv1alpha1.Authority) {
	switch {
	case a.RFC3161Timestamp != nil && a.RFC3161Timestamp.TrustRootRef != "":
		c.res.note(Changed, at+".rfc3161timestamp", "policy-controller also required an RFC 3161 timestamp from TrustRoot %q; gatehouse key authorities check the signature with the key only (looser)", a.RFC3161Timestamp.TrustRootRef)
	case a.CTLog != nil && (a.CTLog.URL != nil || a.CTLog.TrustRootRef != ""):
		c.res.note(Changed, at+".ctlog", "policy-controller also required the signature's entry in the Rekor log; gatehouse key authorities check the signature with the key only (looser)")
	case a.CTLog != nil:
		c.res.note(Ignored, at+".ctlog", "without url or trustRootRef it had no effect")
	}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// name gives the authority a gatehouse name: a DNS label unique in the
// policy, from its policy-controller name (default authority-INDEX, as
// policy-controller names it).
func (c *converter) name(at, name string, i int, used map[string]bool) string {
	want := name
	if want == "" {
		want = fmt.Sprintf("authority-%d", i)
	}
	base := want
	if !dnsLabel.MatchString(base) || len(base) > 63 {
		base = toLabel(base)
	}
	got := base
	for n := 2; used[got]; n++ {
		suffix := fmt.Sprintf("-%d", n)
		got = strings.TrimRight(base[:min(len(base), 63-len(suffix))], "-") + suffix
	}
	used[got] = true
	if got != name {
		c.res.note(Mapped, at+".name", "%q named %q (gatehouse names authorities by DNS labels unique in the policy)", name, got)
	}
	return got
}

var notLabel = regexp.MustCompile(`[^a-z0-9]+`)

func toLabel(s string) string {
	s = strings.Trim(notLabel.ReplaceAllString(strings.ToLower(s), "-"), "-")
	s = strings.TrimRight(s[:min(len(s), 63)], "-")
	if s == "" {
		return "authority"
	}
	return s
}

// signerOf identifies the signer an authority trusts, as gatehouse does:
// the same key under two names is one signer, whatever its hash algorithm.
func signerOf(a v1alpha1.Authority) string {
	if a.Key != nil && a.Key.Data != "" {
		if block, _ := pem.Decode([]byte(a.Key.Data)); block != nil {
			sum := sha256.Sum256(block.Bytes)
			return "key:" + hex.EncodeToString(sum[:])
		}
	}
	js, _ := json.Marshal(a)
	return string(js)
}
