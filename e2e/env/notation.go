package env

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// Notation (the Notary Project CLI) keeps its keys, trust stores and trust
// policy under $XDG_CONFIG_HOME/notation. These helpers know that layout and
// its file formats, so a test can run notation with a private configuration
// and check what it wrote.

// NotationEnv returns os.Environ() with HOME, XDG_CONFIG_HOME and
// XDG_CACHE_HOME pointed into dir, and registry credentials from the
// environment removed, so notation neither reads nor writes the real home.
func NotationEnv(dir string) []string {
	var out []string
	for _, kv := range os.Environ() {
		switch key, _, _ := strings.Cut(kv, "="); key {
		case "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "NOTATION_USERNAME", "NOTATION_PASSWORD",
			"NOTATION_EXPERIMENTAL", "DOCKER_CONFIG":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
}

// NotationConfigDir is notation's configuration directory when it runs with
// NotationEnv(dir).
func NotationConfigDir(dir string) string {
	return filepath.Join(dir, "config", "notation")
}

// NotationCAFile is where `notation cert generate-test <name>` puts the
// generated self-signed certificate in the trust store "ca:<name>". The same
// certificate signs (it is the signing key's chain) and, in the trust store,
// is the root verification anchors on. A copy is at localkeys/<name>.crt.
func NotationCAFile(dir, name string) string {
	return filepath.Join(NotationConfigDir(dir), "truststore", "x509", "ca", name, name+".crt")
}

// NotationTrustPolicyFile is the OCI trust policy notation verify reads.
// notation v1.3.2 (notation-go v1.3.2) reads trustpolicy.json only; the
// trustpolicy.oci.json name belongs to later releases.
func NotationTrustPolicyFile(dir string) string {
	return filepath.Join(NotationConfigDir(dir), "trustpolicy.json")
}

// NotationSubject formats cert's subject as a notation trusted identity,
// "x509.subject: CN=...,O=...,L=...,ST=...,C=...". Notation compares
// distinguished names as attribute sets, so the order does not matter, but
// it requires C, ST and O.
func NotationSubject(cert *x509.Certificate) string {
	return "x509.subject: " + cert.Subject.String()
}

// NotationTrustPolicy is one entry of a notation OCI trust policy document.
type NotationTrustPolicy struct {
	Name                  string   `json:"name"`
	RegistryScopes        []string `json:"registryScopes"`
	SignatureVerification struct {
		Level string `json:"level"` // strict, permissive, audit or skip
	} `json:"signatureVerification"`
	TrustStores       []string `json:"trustStores"`       // "ca:<name>", "tsa:<name>", ...
	TrustedIdentities []string `json:"trustedIdentities"` // NotationSubject values, or "*"
}

// WriteNotationTrustPolicy writes the trust policy document (version 1.0)
// holding policies to NotationTrustPolicyFile(dir).
func WriteNotationTrustPolicy(dir string, policies ...NotationTrustPolicy) error {
	doc := struct {
		Version       string                `json:"version"`
		TrustPolicies []NotationTrustPolicy `json:"trustPolicies"`
	}{"1.0", policies}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	path := NotationTrustPolicyFile(dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o600)
}
