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
	var missing []string
	for _, a := range p.Authorities {
		if !r.SignedBy(a.ID) {
			missing = append(missing, fmt.Sprintf("%q (key %s)", p.names[a.ID], short(a.Key.ID)))
		}
	}
	signed := len(p.Authorities) - len(missing)
	if signed >= p.Need {
		o.Passed = true
		return o
	}
	o.Reason = verify.ReasonUntrustedSigner
	if r.SignaturesFound == 0 {
		o.Reason = verify.ReasonUnsigned
	}
	o.Message = p.failureMessage(r, missing)
	return o
}

func (p *Policy) failureMessage(r *verify.Result, missing []string) string {
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
	if r.SignaturesFound == 0 {
		return fmt.Sprintf("%s is not signed; %s requires %s. Fix: sign the image by digest, e.g. cosign sign --key <key> %s@%s",
			r.Digest, p.ID, need, r.Repository, r.Digest)
	}
	from := "none from a trusted key"
	if signed > 0 {
		from = fmt.Sprintf("%d from the policy's authorities", signed)
	}
	return fmt.Sprintf("%s has %d signature(s), %s; %s requires %s. Fix: sign with a key the policy trusts, or add the signer's key to the policy",
		r.Digest, r.SignaturesFound, from, p.ID, need)
}

func short(keyID string) string {
	if len(keyID) > 19 {
		return keyID[:19]
	}
	return keyID
}
