package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore/pkg/signature"
)

// InTotoPayloadType is the only DSSE payload type an attestation may have.
const InTotoPayloadType = "application/vnd.in-toto+json"

// Errors of Verify and Open.
var (
	// ErrEnvelope: the envelope is malformed, or no signature in it
	// verifies with the key.
	ErrEnvelope = errors.New("attestation envelope does not verify")
	// ErrStatement: the envelope verifies, but what it signs is not an
	// in-toto statement about this image.
	ErrStatement = errors.New("attestation is not an in-toto statement about this image")
)

// Envelope is a DSSE envelope.
type Envelope struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"` // base64
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"` // base64
	} `json:"signatures"`
}

// ParseEnvelope reads a DSSE envelope.
func ParseEnvelope(raw []byte) (*Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEnvelope, err)
	}
	if len(e.Signatures) == 0 {
		return nil, fmt.Errorf("%w: no signature", ErrEnvelope)
	}
	return &e, nil
}

// PAE is DSSE's pre-authentication encoding of a payload: what is signed.
func PAE(payloadType string, payload []byte) []byte {
	return []byte(fmt.Sprintf("DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload))
}

// VerifyKey returns the payload of e if one of its signatures verifies with
// the key behind v over the DSSE encoding of its type and payload.
func (e *Envelope) VerifyKey(v signature.Verifier) ([]byte, error) {
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrEnvelope, err)
	}
	pae := PAE(e.PayloadType, payload)
	for _, s := range e.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			continue
		}
		if v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pae)) == nil {
			return payload, nil
		}
	}
	return nil, fmt.Errorf("%w: no signature verifies with the key", ErrEnvelope)
}
