package migrate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// testKey is an ECDSA P-256 public key in PEM, as cosign writes cosign.pub.
const testKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGbuEyesJrt4DK/kttAwUdKNGLwws
T2JAEyp8xB9RaG5IM4+pqmIYwslfIr6BRuwPf6vaVbjKXn0l+hE2TWtVqg==
-----END PUBLIC KEY-----
`

// otherKey is a second, different key.
const otherKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEN8JRgE/LGJfmkBr4xUNsj6cmpS/a
HYAzmo4cejggwC5BljoBfg5rxQUQHoGr+cv1OnCyZtmQgfhc8HTwP3BUeg==
-----END PUBLIC KEY-----
`

// newKeyPEM returns a fresh ECDSA P-256 public key in PEM.
func newKeyPEM() string {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(&priv.PublicKey)
	if err != nil {
		panic(err)
	}
	return string(pub)
}
