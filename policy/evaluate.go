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
}

// Evaluate judges r against p.
func (p *Policy) Evaluate(r *verify.Result) Outcome {
	o := Outcome{Policy: p.ID, Mode: p.Mode}
	if r.Error != nil {
		o.Reason, o.Message = r.Error.Reason, r.Error.Message
		return o
	}
	index := subject{digest: r.Digest, found: r.SignaturesFound, signedBy: r.SignedBy}
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
			s := subject{digest: pr.Digest, platform: pr.Platform, found: pr.SignaturesFound, signedBy: pr.SignedBy}
			if reason, msg := p.judge(s, r.Repository); reason != "" {
				o.Reason, o.Message = reason, msg+p.platformHint(index)
				return o
			}
		}
	}
	o.Passed = true
	return o
}

// subject is one manifest whose signatures are judged: the image (or
// index) itself, or one platform image of an index.
type subject struct {
	digest, platform string
	found            int
	signedBy         func(authorityID string) bool
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
	for _, a := range p.Authorities {
		if !s.signedBy(a.ID) {
			missing = append(missing, fmt.Sprintf("%q (key %s)", p.names[a.ID], short(a.Key.ID)))
		}
	}
	signed := len(p.Authorities) - len(missing)
	if signed >= p.Need {
		return "", ""
	}
	reason := verify.ReasonUntrustedSigner
	if s.found == 0 {
		reason = verify.ReasonUnsigned
	}
	return reason, p.failureMessage(s, repository, missing)
}

func (p *Policy) failureMessage(s subject, repository string, missing []string) string {
	signed := len(p.Authorities) - len(missing)
	var need string
	switch {
	case p.Need == len(p.Authorities):
		need = "a valid signature from " + strings.Join(missing, " and ")
	case p.Need == 1:
		need = "a valid signature from one of " + strings.Join(missing, ", ")
	default:
		need = fmt.Sprintf("valid signatures from %d of its %d authorities (%d found); missing: %s", p.Need, len(p.Authorities), signed, strings.Join(missing, ", "))
	}
	if s.found == 0 {
		return fmt.Sprintf("%s is not signed; %s requires %s. Fix: sign the image by digest, e.g. cosign sign --key <key> %s@%s",
			s, p.ID, need, repository, s.digest)
	}
	from := "none from a trusted key"
	if signed > 0 {
		from = fmt.Sprintf("%d from the policy's authorities", signed)
	}
	return fmt.Sprintf("%s has %d signature(s), %s; %s requires %s. Fix: sign with a key the policy trusts, or add the signer's key to the policy",
		s, s.found, from, p.ID, need)
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
