package policy

import (
	"context"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

const releaseIdentity = "x509.subject: C=US, ST=WA, O=example, CN=release"

var releaseSubject = pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"example"}, CommonName: "release"}

func notationAuthority(name string, stores []v1alpha1.NotationTrustStore, identities ...string) v1alpha1.Authority {
	return v1alpha1.Authority{Name: name, Notation: &v1alpha1.NotationAuthority{TrustStores: stores, TrustedIdentities: identities}}
}

func inlineStore(pem string) []v1alpha1.NotationTrustStore {
	return []v1alpha1.NotationTrustStore{{Type: "ca", Name: "release", Certificates: pem}}
}

func TestCompileNotation(t *testing.T) {
	ca := verifytest.NewNotationCA(t, "release-ca")
	inline := inlineStore(ca.PEM)
	cluster := fakeCluster{
		fakeSecrets: fakeSecrets{"gatehouse-system/release-ca": {"ca.crt": []byte(ca.PEM)}},
		configMaps:  map[string]map[string]string{"team/release-ca": {"ca.crt": ca.PEM}},
	}
	secret := func(ns, key string) []v1alpha1.NotationTrustStore {
		return []v1alpha1.NotationTrustStore{{Type: "ca", Name: "release", SecretRef: &v1alpha1.SecretKeyRef{Namespace: ns, Name: "release-ca", Key: key}}}
	}
	configMap := func(ns, key string) []v1alpha1.NotationTrustStore {
		return []v1alpha1.NotationTrustStore{{Type: "ca", Name: "release", ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Namespace: ns, Name: "release-ca", Key: key}}}
	}
	level := func(l string) v1alpha1.Authority {
		a := notationAuthority("release", inline, releaseIdentity)
		a.Notation.Level = l
		return a
	}
	withCRLs := func(crls ...v1alpha1.NotationCRL) v1alpha1.Authority {
		a := notationAuthority("release", inline, releaseIdentity)
		a.Notation.CRLs = crls
		return a
	}
	crlPEM := ca.CRL(t, time.Now(), time.Now().Add(time.Hour))
	block, _ := pem.Decode([]byte(crlPEM))
	cluster.fakeSecrets["gatehouse-system/release-crl"] = map[string][]byte{"ca.crl": []byte(crlPEM)}
	cluster.configMaps["team/release-crl"] = map[string]string{"ca.crl": string(block.Bytes)} // binaryData, DER
	cip, ip := v1alpha1.KindClusterImagePolicy, v1alpha1.KindImagePolicy
	tests := []compileCase{
		{name: "CRL inline", o: keylessPolicy(cip, "", withCRLs(v1alpha1.NotationCRL{CRL: crlPEM}))},
		{name: "CRL in a Secret", o: keylessPolicy(cip, "", withCRLs(v1alpha1.NotationCRL{SecretRef: &v1alpha1.SecretKeyRef{Namespace: "gatehouse-system", Name: "release-crl", Key: "ca.crl"}})), cluster: cluster},
		{name: "CRL in a ConfigMap as DER", o: keylessPolicy(ip, "team", withCRLs(v1alpha1.NotationCRL{ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "release-crl", Key: "ca.crl"}})), cluster: cluster},
		{name: "CRL that is a certificate", o: keylessPolicy(cip, "", withCRLs(v1alpha1.NotationCRL{CRL: crlPEM}, v1alpha1.NotationCRL{CRL: ca.PEM})),
			wantErr: `notation: crls[1] (notation.crls[1]): PEM block "CERTIFICATE": want "X509 CRL" blocks only`},
		{name: "CRL inline and in a Secret", o: keylessPolicy(cip, "", withCRLs(v1alpha1.NotationCRL{CRL: crlPEM, SecretRef: &v1alpha1.SecretKeyRef{Namespace: "gatehouse-system", Name: "release-crl", Key: "ca.crl"}})), cluster: cluster,
			wantErr: "notation.crls[0]: set exactly one of crl (inline), secretRef and configMapRef"},
		{name: "CRL in a Secret without key", o: keylessPolicy(cip, "", withCRLs(v1alpha1.NotationCRL{SecretRef: &v1alpha1.SecretKeyRef{Namespace: "gatehouse-system", Name: "release-crl"}})), cluster: cluster,
			wantErr: "notation.crls[0].secretRef.key is required: the data key holding the CRLs"},
		{name: "CRL in a ConfigMap without a cluster", o: keylessPolicy(ip, "team", withCRLs(v1alpha1.NotationCRL{ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Name: "release-crl", Key: "ca.crl"}})),
			wantErr: "notation.crls[0].configMapRef: CRLs in a ConfigMap need a cluster"},
		{name: "inline certificates", o: keylessPolicy(cip, "", notationAuthority("release", inline, releaseIdentity))},
		{name: "permissive", o: keylessPolicy(cip, "", level("permissive"))},
		{name: "any identity refused", o: keylessPolicy(cip, "", notationAuthority("release", inline, "*")), wantErr: `"*" is refused: it lets anyone holding a certificate from the trust stores sign`},
		{name: "skip refused", o: keylessPolicy(cip, "", level("skip")), wantErr: `level "skip": use strict or permissive`},
		{name: "audit refused", o: keylessPolicy(cip, "", level("audit")), wantErr: `set spec.mode: audit`},
		{name: "no identities", o: keylessPolicy(cip, "", notationAuthority("release", inline)), wantErr: "trustedIdentities: list"},
		{name: "identity notation-go refuses", o: keylessPolicy(cip, "", notationAuthority("release", inline, "x509.subject: CN=release")),
			wantErr: `spec.authorities[0] (release): notation: trust policy: trust policy statement "gatehouse" has trusted identity "x509.subject: CN=release" with invalid identity value`},
		{name: "no stores", o: keylessPolicy(cip, "", notationAuthority("release", nil, releaseIdentity)), wantErr: "notation.trustStores: list at least one store"},
		{name: "store with certificates and a Secret", o: keylessPolicy(cip, "", notationAuthority("release", []v1alpha1.NotationTrustStore{{Type: "ca", Name: "r", Certificates: ca.PEM, SecretRef: secret("gatehouse-system", "ca.crt")[0].SecretRef}}, releaseIdentity)),
			cluster: cluster, wantErr: "notation.trustStores[0]: set exactly one of certificates"},
		{name: "key and notation in one authority", o: func() Object {
			a := notationAuthority("release", inline, releaseIdentity)
			a.Key = &v1alpha1.KeyAuthority{Data: newKeyPEM(t)}
			return keylessPolicy(cip, "", a)
		}(), wantErr: "set one of key, keyless and notation"},
		{name: "the same signer twice", o: keylessPolicy(cip, "", notationAuthority("release", inline, releaseIdentity), notationAuthority("again", inline, releaseIdentity)),
			wantErr: `same notation trust stores, identities and level as authority "release"`},
		{name: "Secret", o: keylessPolicy(cip, "", notationAuthority("release", secret("gatehouse-system", "ca.crt"), releaseIdentity)), cluster: cluster},
		{name: "Secret without key", o: keylessPolicy(cip, "", notationAuthority("release", secret("gatehouse-system", ""), releaseIdentity)), cluster: cluster,
			wantErr: "notation.trustStores[0].secretRef.key is required"},
		{name: "Secret of another namespace", o: keylessPolicy(ip, "team", notationAuthority("release", secret("gatehouse-system", "ca.crt"), releaseIdentity)), cluster: cluster,
			wantErr: "an ImagePolicy may only read Secrets in its own namespace (team)"},
		{name: "Secret without a cluster", o: keylessPolicy(cip, "", notationAuthority("release", secret("gatehouse-system", "ca.crt"), releaseIdentity)), wantErr: "certificates in a Secret need a cluster"},
		{name: "ConfigMap of an ImagePolicy, own namespace by default", o: keylessPolicy(ip, "team", notationAuthority("release", configMap("", "ca.crt"), releaseIdentity)), cluster: cluster},
		{name: "ConfigMap missing key names the keys there", o: keylessPolicy(ip, "team", notationAuthority("release", configMap("", "root.pem"), releaseIdentity)), cluster: cluster,
			wantErr: `has no key "root.pem" (it has: ca.crt)`},
		{name: "ConfigMap without namespace in a cluster policy", o: keylessPolicy(cip, "", notationAuthority("release", configMap("", "ca.crt"), releaseIdentity)), cluster: cluster,
			wantErr: "notation.trustStores[0].configMapRef.namespace is required in a ClusterImagePolicy"},
	}
	runCompileCases(t, tests)
}

// A notation policy judges real signatures; two authorities that trust the
// same certificate subject count as one signer.
func TestEvaluateNotation(t *testing.T) {
	host := verifytest.Registry(t)
	ca, other := verifytest.NewNotationCA(t, "release-ca"), verifytest.NewNotationCA(t, "other-ca")
	d := verifytest.PushImage(t, host+"/app/web:v1")
	signer := ca.Signer(t, releaseSubject, time.Now().Add(time.Hour))
	verifytest.SignNotation(t, host+"/app/web", d, signer, verifytest.NotationJWS)
	now := time.Now()
	revoking := notationAuthority("release", inlineStore(ca.PEM), releaseIdentity)
	revoking.Notation.CRLs = []v1alpha1.NotationCRL{{CRL: ca.CRL(t, now.Add(-time.Minute), now.Add(time.Hour), verifytest.Revoked(signer.Cert, now.Add(-time.Minute), 1))}}
	stale := notationAuthority("release", inlineStore(ca.PEM), releaseIdentity)
	stale.Notation.CRLs = []v1alpha1.NotationCRL{{CRL: ca.CRL(t, now.Add(-time.Hour), now.Add(-time.Minute))}}
	unsigned := verifytest.PushImage(t, host+"/app/unsigned:v1")
	two := int32(2)
	tests := []struct {
		name       string
		image      string
		authority  []v1alpha1.Authority
		threshold  *int32
		wantReason verify.Reason
		want       string
	}{
		{name: "trusted", image: "/app/web:v1", authority: []v1alpha1.Authority{notationAuthority("release", inlineStore(ca.PEM), releaseIdentity)}},
		{name: "another identity", image: "/app/web:v1", authority: []v1alpha1.Authority{notationAuthority("release", inlineStore(ca.PEM), "x509.subject: C=US, ST=WA, O=example, CN=builder")},
			wantReason: verify.ReasonUntrustedSigner, want: `"release" (notation, identity x509.subject: C=US, ST=WA, O=example, CN=builder)`},
		{name: "another CA", image: "/app/web:v1", authority: []v1alpha1.Authority{notationAuthority("release", inlineStore(other.PEM), releaseIdentity)},
			wantReason: verify.ReasonUntrustedSigner, want: "none from a trusted certificate"},
		{name: "unsigned", image: "/app/unsigned@" + unsigned.String(), authority: []v1alpha1.Authority{notationAuthority("release", inlineStore(ca.PEM), releaseIdentity)},
			wantReason: verify.ReasonUnsigned, want: "e.g. notation sign --key <key> " + host},
		{name: "one subject counts once", image: "/app/web:v1", threshold: &two, authority: []v1alpha1.Authority{
			notationAuthority("release", inlineStore(ca.PEM), releaseIdentity),
			notationAuthority("release-or-builder", inlineStore(ca.PEM), releaseIdentity, "x509.subject: C=US, ST=WA, O=example, CN=builder"),
		}, wantReason: verify.ReasonUntrustedSigner, want: "2 distinct signers (1 found"},
		{name: "revoked", image: "/app/web:v1", authority: []v1alpha1.Authority{revoking},
			wantReason: verify.ReasonUntrustedSigner, want: `its signature was refused: certificate "CN=release,O=example,ST=WA,C=US" (serial ` + signer.Cert.SerialNumber.Text(16) + `) was revoked at`},
		{name: "revoked: the fix", image: "/app/web:v1", authority: []v1alpha1.Authority{revoking},
			wantReason: verify.ReasonUntrustedSigner, want: "Fix: sign again with a certificate the CRLs do not revoke"},
		{name: "stale CRL", image: "/app/web:v1", authority: []v1alpha1.Authority{stale},
			wantReason: verify.ReasonUntrustedSigner, want: "is stale: its nextUpdate"},
	}
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := keylessPolicy(v1alpha1.KindClusterImagePolicy, "", tc.authority...)
			o.Spec.Threshold = tc.threshold
			p := mustCompile(t, o)
			r := v.Verify(context.Background(), verify.Request{Image: host + tc.image, Authorities: p.Authorities})
			out := p.Evaluate(&r)
			if out.Passed != (tc.wantReason == "") || out.Reason != tc.wantReason || !strings.Contains(out.Message, tc.want) {
				t.Fatalf("outcome %+v, want reason %q and a message containing %q", out, tc.wantReason, tc.want)
			}
		})
	}
}
