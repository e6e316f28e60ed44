package attest_test

import (
	"crypto"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature"

	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

var (
	image = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	other = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
)

// Open accepts exactly the in-toto statements about this image.
func TestOpen(t *testing.T) {
	st := func(typ, predicateType string, d v1.Hash) []byte {
		return []byte(`{"_type":"` + typ + `","predicateType":"` + predicateType + `","subject":[{"name":"x","digest":{"sha256":"` + d.Hex + `"}}],"predicate":{"a":1}}`)
	}
	tests := []struct {
		name, payloadType string
		payload           []byte
		want              string // "" opens
	}{
		{name: "v0.1", payloadType: attest.InTotoPayloadType, payload: st(attest.StatementV01, attest.SLSAProvenanceV1, image)},
		{name: "v1", payloadType: attest.InTotoPayloadType, payload: st(attest.StatementV1, attest.CycloneDX, image)},
		{name: "another image", payloadType: attest.InTotoPayloadType, payload: st(attest.StatementV1, attest.CycloneDX, other), want: "no subject has digest"},
		{name: "payload type not in-toto", payloadType: "application/vnd.dev.cosign.simplesigning.v1+json", payload: st(attest.StatementV1, attest.CycloneDX, image), want: "payload type"},
		{name: "not a statement", payloadType: attest.InTotoPayloadType, payload: st("https://example.com/Statement", attest.CycloneDX, image), want: "_type"},
		{name: "no predicate type", payloadType: attest.InTotoPayloadType, payload: st(attest.StatementV1, "", image), want: "no predicateType"},
		{name: "not JSON", payloadType: attest.InTotoPayloadType, payload: []byte("{"), want: "unexpected end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := attest.Open(tc.payloadType, tc.payload, image)
			if tc.want == "" {
				if err != nil || string(s.Predicate) != `{"a":1}` {
					t.Fatalf("statement %+v, error %v", s, err)
				}
				return
			}
			if !errors.Is(err, attest.ErrStatement) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrStatement containing %q", err, tc.want)
			}
		})
	}
}

// An envelope verifies only with the key that signed its exact type and
// payload.
func TestVerifyKey(t *testing.T) {
	key, otherKey := verifytest.NewKey(t), verifytest.NewKey(t)
	payload := verifytest.InTotoStatement("r", image, attest.CycloneDX, []byte(`{}`))
	env := verifytest.DSSE(t, key, attest.InTotoPayloadType, payload)
	verifier := func(k *verifytest.Key) signature.Verifier {
		v, err := k.Signer.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		sv, err := signature.LoadVerifier(v, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return sv
	}
	retyped := map[string]any{}
	_ = json.Unmarshal(env, &retyped)
	retyped["payloadType"] = "application/json"
	retypedEnv, _ := json.Marshal(retyped)
	tests := []struct {
		name string
		env  []byte
		key  *verifytest.Key
		want string
	}{
		{name: "signed", env: env, key: key},
		{name: "another key", env: env, key: otherKey, want: "no signature verifies"},
		{name: "payload type changed after signing", env: retypedEnv, key: key, want: "no signature verifies"},
		{name: "no signatures", env: []byte(`{"payloadType":"x","payload":"","signatures":[]}`), key: key, want: "no signature"},
		{name: "garbage", env: []byte(`[`), key: key, want: "unexpected end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := attest.ParseEnvelope(tc.env)
			var got []byte
			if err == nil {
				got, err = e.VerifyKey(verifier(tc.key))
			}
			if tc.want == "" {
				if err != nil || string(got) != string(payload) {
					t.Fatalf("payload %q, error %v", got, err)
				}
				return
			}
			if !errors.Is(err, attest.ErrEnvelope) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrEnvelope containing %q", err, tc.want)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(attest.InTotoPayloadType, verifytest.InTotoStatement("r", image, attest.SLSAProvenanceV1, []byte(`{}`)))
	f.Fuzz(func(t *testing.T, payloadType string, payload []byte) {
		s, err := attest.Open(payloadType, payload, image)
		if err == nil && (payloadType != attest.InTotoPayloadType || s.PredicateType == "") {
			t.Fatalf("opened %+v with payload type %q", s, payloadType)
		}
	})
}
