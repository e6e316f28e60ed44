package attest

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Statement types gatehouse reads.
const (
	StatementV01 = "https://in-toto.io/Statement/v0.1"
	StatementV1  = "https://in-toto.io/Statement/v1"
)

// Statement is an in-toto statement whose subject includes the image.
type Statement struct {
	// PredicateType is the statement's own predicate type.
	PredicateType string
	// Predicate is the predicate as signed.
	Predicate json.RawMessage
}

type statement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Open checks a verified DSSE payload: an in-toto statement, of payload
// type in-toto, with digest among its subjects. It returns the statement.
func Open(payloadType string, payload []byte, digest v1.Hash) (*Statement, error) {
	if payloadType != InTotoPayloadType {
		return nil, fmt.Errorf("%w: payload type %q, want %q", ErrStatement, payloadType, InTotoPayloadType)
	}
	var s statement
	if err := json.Unmarshal(payload, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStatement, err)
	}
	if s.Type != StatementV01 && s.Type != StatementV1 {
		return nil, fmt.Errorf("%w: _type %q", ErrStatement, s.Type)
	}
	if s.PredicateType == "" {
		return nil, fmt.Errorf("%w: no predicateType", ErrStatement)
	}
	for _, sub := range s.Subject {
		if sub.Digest[digest.Algorithm] == digest.Hex {
			return &Statement{PredicateType: s.PredicateType, Predicate: s.Predicate}, nil
		}
	}
	return nil, fmt.Errorf("%w: no subject has digest %s (a statement about another image)", ErrStatement, digest)
}
