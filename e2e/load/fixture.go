package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/certs"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

type fixture struct {
	signed, signedDigest, unsigned, unsignedDigest string
	certFile, keyFile                              string
	pool                                           *x509.CertPool
}

// seed pushes a signed and an unsigned image, writes a policy trusting the
// signing key, and a serving certificate for 127.0.0.1.
func seed(_ context.Context, host, dir string) (*fixture, error) {
	key, err := verifytest.GenerateKey()
	if err != nil {
		return nil, err
	}
	f := &fixture{signed: host + "/load/signed:v1", unsigned: host + "/load/unsigned:v1"}
	d, err := verifytest.PushRandom(f.signed)
	if err != nil {
		return nil, err
	}
	if err := verifytest.SignLegacy(host+"/load/signed", d, key, verifytest.Payload(host+"/load/signed", d)); err != nil {
		return nil, err
	}
	f.signedDigest = d.String()
	u, err := verifytest.PushRandom(f.unsigned)
	if err != nil {
		return nil, err
	}
	f.unsignedDigest = u.String()
	policy := fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: load}
spec:
  images: [{glob: "%s/load/**"}]
  authorities:
    - name: ci
      key:
        data: |
%s`, host, indent(key.PublicPEM, "          "))
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(policy), 0o600); err != nil {
		return nil, err
	}
	return f, f.writeCert(dir)
}

func (f *fixture) writeCert(dir string) error {
	ca, err := certs.NewCA(time.Now(), 24*time.Hour)
	if err != nil {
		return err
	}
	c, err := ca.Issue([]string{"127.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		return err
	}
	bundle, _, err := ca.Encode(time.Now())
	if err != nil {
		return err
	}
	f.pool = x509.NewCertPool()
	f.pool.AppendCertsFromPEM(bundle)
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return err
	}
	var certPEM []byte
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	f.certFile, f.keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(f.certFile, certPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(f.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}

func numCPU() int { return runtime.NumCPU() }
