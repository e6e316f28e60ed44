package policy

import (
	"fmt"
	"strings"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
)

// Outcome is one policy's judgement of one image.
type Outcome struct {
	Policy  string        `json:"policy"`
	Mode    v1alpha1.Mode `json:"mode"`
	Passed  bool          `json:"passed"`
	Reason  verify.Reason `json:"reason,omitempty"`
	Message string        `json:"message,omitempty"`
	// Warnings are the warn messages of the policy's Rego module, returned
	// to the client verbatim whatever the outcome.
	Warnings []string `json:"warnings,omitempty"`
}

// Evaluate judges r against p.
func (p *Policy) Evaluate(r *verify.Result) Outcome {
	o := Outcome{Policy: p.ID, Mode: p.Mode}
	if r.Error != nil {
		o.Reason, o.Message = r.Error.Reason, r.Error.Message
		return o
	}
	index := subject{digest: r.Digest, found: r.SignaturesFound, signatures: r.Signatures, rejected: r.Rejected}
	checkIndex := p.MultiArch != v1alpha1.MultiArchPlatforms || !r.Index
	if checkIndex {
		if reason, msg := p.judge(index, r.Repository); reason != "" {
			o.Reason, o.Message = reason, msg+p.indexHint(r)
			return o
		}
	}
	if p.MultiArch != v1alpha1.MultiArchIndex && r.Index {
		for i := range r.Platforms {
			pr := &r.Platforms[i]
			s := subject{digest: pr.Digest, platform: pr.Platform, found: pr.SignaturesFound, signatures: pr.Signatures, rejected: pr.Rejected}
			if reason, msg := p.judge(s, r.Repository); reason != "" {
				o.Reason, o.Message = reason, msg+p.platformHint(index)
				return o
			}
		}
	}
	if reason, msg := p.judgeAttestations(r); reason != "" {
		o.Reason, o.Message = reason, msg
		return o
	}
	o.Passed = true
	return o
}

// subject is one manifest whose signatures are judged: the image (or
// index) itself, or one platform image of an index.
type subject struct {
	digest, platform string
	found            int
	signatures       []verify.Signature
	rejected         []verify.Rejection
}

// rejection returns why an authority refused a signature of its signer,
// e.g. "certificate ... was revoked", or "".
func (s subject) rejection(authorityID string) string {
	var msgs []string
	for _, r := range s.rejected {
		if r.Authority == authorityID {
			msgs = append(msgs, r.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

// signature returns the verified signature of an authority, if any.
func (s subject) signature(authorityID string) (verify.Signature, bool) {
	for _, sig := range s.signatures {
		if sig.Authority == authorityID {
			return sig, true
		}
	}
	return verify.Signature{}, false
}

// signer identifies who made a signature: a key, or a certificate
// identity. Authorities satisfied by the same signer count once, so
// overlapping keyless identities cannot turn one signature into two.
func signer(sig verify.Signature) string {
	if sig.Notation != nil {
		return "notation\x00" + sig.Notation.Subject
	}
	if sig.Certificate != nil {
		return "keyless\x00" + sig.Certificate.Issuer + "\x00" + sig.Certificate.Subject
	}
	if sig.KeyID != "" {
		return "key\x00" + sig.KeyID // distinct per authority: compile refuses one key under two names
	}
	return "authority\x00" + sig.Authority
}

func (s subject) String() string {
	if s.platform == "" {
		return s.digest
	}
	return "platform image " + s.platform + " (" + s.digest + ")"
}

// judge returns the failure reason and message for s, or "" when enough
// authorities signed it.
func (p *Policy) judge(s subject, repository string) (verify.Reason, string) {
	var missing []string
	signers := map[string]bool{}
	for _, a := range p.Authorities {
		if sig, ok := s.signature(a.ID); ok {
			signers[signer(sig)] = true
		} else if why := s.rejection(a.ID); why != "" {
			missing = append(missing, fmt.Sprintf("%q (%s; its signature was refused: %s)", p.names[a.ID], describe(a), why))
		} else {
			missing = append(missing, fmt.Sprintf("%q (%s)", p.names[a.ID], describe(a)))
		}
	}
	if len(signers) >= p.Need {
		return "", ""
	}
	reason := verify.ReasonUntrustedSigner
	if s.found == 0 {
		reason = verify.ReasonUnsigned
	}
	return reason, p.failureMessage(s, repository, missing, len(signers))
}

func (p *Policy) failureMessage(s subject, repository string, missing []string, signed int) string {
	var need string
	switch {
	case len(missing) == 0: // every authority matched, but fewer distinct signers than needed
		need = fmt.Sprintf("signatures from %d distinct signers (%d found: several of its authorities match the same signer)", p.Need, signed)
	case p.Need == len(p.Authorities):
		need = "a valid signature from " + strings.Join(missing, " and ")
	case p.Need == 1:
		need = "a valid signature from one of " + strings.Join(missing, ", ")
	default:
		need = fmt.Sprintf("valid signatures from %d of its %d authorities (%d found); missing: %s", p.Need, len(p.Authorities), signed, strings.Join(missing, ", "))
	}
	kind := p.signerKind()
	if s.found == 0 {
		example := map[string]string{"keyless": "cosign sign", "notation": "notation sign --key <key>"}[kind]
		if example == "" {
			example = "cosign sign --key <key>"
		}
		return fmt.Sprintf("%s is not signed; %s requires %s. Fix: sign the image by digest, e.g. %s %s@%s",
			s, p.ID, need, example, repository, s.digest)
	}
	from, fix := "none from a trusted key", "sign with a key the policy trusts, or add the signer's key to the policy"
	switch kind {
	case "keyless":
		from, fix = "none from a trusted identity", "sign as an identity the policy trusts (check the certificate's subject and issuer), or add that identity to the policy"
	case "notation":
		from, fix = "none from a trusted certificate", "sign with a certificate from the policy's trust stores whose subject is one of its trusted identities, or add that subject to the policy"
	}
	if signed > 0 {
		from = fmt.Sprintf("%d from the policy's authorities", signed)
	}
	if len(s.rejected) > 0 {
		fix = "sign again with a certificate the CRLs do not revoke (or, if a CRL is stale or not signed by its CA, load a current one from that CA)"
	}
	return fmt.Sprintf("%s has %d signature(s), %s; %s requires %s. Fix: %s",
		s, s.found, from, p.ID, need, fix)
}

// signerKind is "keyless" or "notation" when every authority of p is of
// that kind, "" otherwise, to word advice for how its signers sign.
func (p *Policy) signerKind() string {
	kind := ""
	for i, a := range p.Authorities {
		k := ""
		switch {
		case a.Keyless != nil:
			k = "keyless"
		case a.Notation != nil:
			k = "notation"
		}
		if i > 0 && k != kind {
			return ""
		}
		kind = k
	}
	return kind
}

// describe names what an authority trusts, for messages.
func describe(a verify.Authority) string {
	if a.Notation != nil {
		return describeNotation(a.Notation)
	}
	if a.Keyless == nil {
		return "key " + short(a.Key.ID)
	}
	ids := a.Keyless.Identities
	if len(ids) == 1 {
		return "keyless, " + ids[0].String()
	}
	return fmt.Sprintf("keyless, %s or %d other identities", ids[0], len(ids)-1)
}

// indexHint explains a failing index to those whose pipeline signs the
// platform images instead.
func (p *Policy) indexHint(r *verify.Result) string {
	if !r.Index || p.MultiArch != v1alpha1.MultiArchIndex {
		return ""
	}
	return " (it is a multi-platform index: if your pipeline signs the platform images rather than the index, set multiArch: platforms)"
}

// platformHint explains a failing platform image when the index is signed.
func (p *Policy) platformHint(index subject) string {
	if reason, _ := p.judge(index, ""); reason != "" {
		return ""
	}
	return fmt.Sprintf(" (the index %s is signed, but multiArch: %s requires each platform image the pod can run to be signed: sign with cosign sign --recursive, or set multiArch: index)", index.digest, p.MultiArch)
}

func short(keyID string) string {
	if len(keyID) > 19 {
		return keyID[:19]
	}
	return keyID
}
