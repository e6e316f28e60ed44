package policy

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

const (
	ciSubject = "https://github.com/org/app/.github/workflows/release.yaml@refs/heads/main"
	ciIssuer  = "https://token.actions.githubusercontent.com"
)

// fakeCluster reads Secrets and ConfigMaps from maps "namespace/name" -> data.
type fakeCluster struct {
	fakeSecrets
	configMaps map[string]map[string]string
}

func (f fakeCluster) ConfigMapData(_ context.Context, namespace, name string) (map[string]string, error) {
	d, ok := f.configMaps[namespace+"/"+name]
	if !ok {
		return nil, errors.New("configmaps \"" + name + "\" not found")
	}
	return d, nil
}

func keylessAuthority(name string, root v1alpha1.TrustedRootSource, ids ...v1alpha1.Identity) v1alpha1.Authority {
	return v1alpha1.Authority{Name: name, Keyless: &v1alpha1.KeylessAuthority{Identities: ids, TrustedRoot: root}}
}

func keylessPolicy(kind, namespace string, as ...v1alpha1.Authority) Object {
	return Object{Kind: kind, Namespace: namespace, Name: "p", Spec: v1alpha1.ImagePolicySpec{Images: globs("registry.example.com/**"), Authorities: as}}
}

func TestCompileKeyless(t *testing.T) {
	sigstore := verifytest.NewSigstore(t)
	trustedRoot := sigstore.TrustedRoot(t, verifytest.RootOptions{})
	caPEM, tsaPEM, logPEM := sigstore.PEMs(t)
	repo := verifytest.NewTUFRepo(t, map[string][]byte{"trusted_root.json": []byte(trustedRoot)}, time.Now().Add(time.Hour))
	mirror := repo.TarGz(t, "")
	tufInline := &v1alpha1.TrustedRootTUF{Root: string(repo.Root), Mirror: base64.StdEncoding.EncodeToString(mirror)}
	tufCM := &v1alpha1.TrustedRootTUF{Root: string(repo.Root), MirrorConfigMapRef: &v1alpha1.ConfigMapKeyRef{Namespace: "gatehouse-system", Name: "tuf"}}
	strangerRepo := verifytest.NewTUFRepo(t, map[string][]byte{"trusted_root.json": []byte(trustedRoot)}, time.Now().Add(time.Hour))
	inline := v1alpha1.TrustedRootSource{Data: trustedRoot}
	exact := v1alpha1.Identity{Issuer: ciIssuer, Subject: ciSubject}
	cluster := fakeCluster{configMaps: map[string]map[string]string{
		"gatehouse-system/sigstore": {DefaultTrustedRootKey: trustedRoot},
		"team/sigstore":             {"root.json": trustedRoot},
		"gatehouse-system/tuf":      {DefaultTUFMirrorKey: string(mirror)},
	}}
	cm := func(ns, name, key string) v1alpha1.TrustedRootSource {
		return v1alpha1.TrustedRootSource{ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Namespace: ns, Name: name, Key: key}}
	}
	threshold := func(n int32) v1alpha1.Authority {
		a := keylessAuthority("ci", inline, exact)
		a.Keyless.TransparencyLogThreshold = &n
		return a
	}
	cip, ip := v1alpha1.KindClusterImagePolicy, v1alpha1.KindImagePolicy
	tests := []compileCase{
		{name: "inline trusted root, exact identity", o: keylessPolicy(cip, "", keylessAuthority("ci", inline, exact))},
		{name: "regexp identity", o: keylessPolicy(cip, "", keylessAuthority("ci", inline, v1alpha1.Identity{IssuerRegExp: `^https://token\.actions\.githubusercontent\.com$`, SubjectRegExp: `^https://github\.com/org/.+$`}))},
		{name: "unanchored regexp refused", o: keylessPolicy(cip, "", keylessAuthority("ci", inline, v1alpha1.Identity{Issuer: ciIssuer, SubjectRegExp: `https://github\.com/org/.+`})),
			wantErr: `spec.authorities[0] (ci): keyless: identities[0]: subjectRegExp "https://github\\.com/org/.+": must match the whole value: start it with ^ and end it with $`},
		{name: "invalid regexp refused", o: keylessPolicy(cip, "", keylessAuthority("ci", inline, v1alpha1.Identity{IssuerRegExp: `^(https://$`, Subject: ciSubject})),
			wantErr: `issuerRegExp "^(https://$": not a valid regular expression`},
		{name: "identity without issuer", o: keylessPolicy(cip, "", keylessAuthority("ci", inline, v1alpha1.Identity{Subject: ciSubject})), wantErr: "set issuer (exact) or issuerRegExp"},
		{name: "no identities", o: keylessPolicy(cip, "", keylessAuthority("ci", inline)), wantErr: "keyless.identities: list at least one identity"},
		{name: "trusted root not JSON", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{Data: `{"mediaType":`}, exact)), wantErr: "keyless: trusted root:"},
		{name: "no trusted root", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{}, exact)), wantErr: "keyless.trustedRoot: set data"},
		{name: "data and configMapRef", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{Data: trustedRoot, ConfigMapRef: cm("gatehouse-system", "sigstore", "").ConfigMapRef}, exact)), cluster: cluster,
			wantErr: "set one of data, configMapRef, pem and tuf, not several"},
		{name: "PEM certificates and keys", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{PEM: &v1alpha1.TrustedRootPEM{
			CertificateAuthorities: []string{caPEM}, TimestampAuthorities: []string{tsaPEM}, TransparencyLogs: []string{logPEM}}}, exact))},
		{name: "PEM without a log, threshold 1", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{PEM: &v1alpha1.TrustedRootPEM{
			CertificateAuthorities: []string{caPEM}, TimestampAuthorities: []string{tsaPEM}}}, exact)), wantErr: "the trusted root lists only 0 transparency log(s)"},
		{name: "PEM key in place of a CA", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{PEM: &v1alpha1.TrustedRootPEM{
			CertificateAuthorities: []string{logPEM}, TransparencyLogs: []string{logPEM}}}, exact)), wantErr: "keyless.trustedRoot.pem: certificateAuthorities[0]: not PEM certificates"},
		{name: "PEM and data", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{Data: trustedRoot, PEM: &v1alpha1.TrustedRootPEM{CertificateAuthorities: []string{caPEM}}}, exact)),
			wantErr: "not several"},
		{name: "TUF mirror inline", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{TUF: tufInline}, exact))},
		{name: "TUF mirror in a ConfigMap", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{TUF: tufCM}, exact)), cluster: cluster},
		{name: "TUF mirror of another repository", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{TUF: &v1alpha1.TrustedRootTUF{
			Root: string(repo.Root), Mirror: base64.StdEncoding.EncodeToString(strangerRepo.TarGz(t, ""))}}, exact)), wantErr: "keyless.trustedRoot.tuf: the mirror does not verify against the root"},
		{name: "TUF mirror not base64", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{TUF: &v1alpha1.TrustedRootTUF{Root: string(repo.Root), Mirror: "%%"}}, exact)),
			wantErr: "keyless.trustedRoot.tuf.mirror: not base64"},
		{name: "TUF without a mirror", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{TUF: &v1alpha1.TrustedRootTUF{Root: string(repo.Root)}}, exact)),
			wantErr: "keyless.trustedRoot.tuf: set mirror"},
		{name: "TUF mirror ConfigMap without the key", o: keylessPolicy(cip, "", keylessAuthority("ci", v1alpha1.TrustedRootSource{TUF: &v1alpha1.TrustedRootTUF{
			Root: string(repo.Root), MirrorConfigMapRef: &v1alpha1.ConfigMapKeyRef{Namespace: "gatehouse-system", Name: "sigstore"}}}, exact)), cluster: cluster,
			wantErr: `keyless.trustedRoot.tuf.mirrorConfigMapRef: ConfigMap gatehouse-system/sigstore has no key "mirror.tar.gz"`},
		{name: "threshold 0 uses signed timestamps", o: keylessPolicy(cip, "", threshold(0))},
		{name: "threshold above the root's logs", o: keylessPolicy(cip, "", threshold(2)), wantErr: "the trusted root lists only 1 transparency log(s)"},
		{name: "negative threshold", o: keylessPolicy(cip, "", threshold(-1)), wantErr: "keyless.transparencyLogThreshold -1"},
		{name: "key and keyless in one authority", o: func() Object {
			a := keylessAuthority("ci", inline, exact)
			a.Key = &v1alpha1.KeyAuthority{Data: newKeyPEM(t)}
			return keylessPolicy(cip, "", a)
		}(), wantErr: "set one of key, keyless and notation"},
		{name: "the same signer twice", o: keylessPolicy(cip, "", keylessAuthority("ci", inline, exact), keylessAuthority("release", inline, exact)),
			wantErr: `same keyless identities and trusted root as authority "ci"`},
		{name: "keyless next to a key", o: keylessPolicy(cip, "", keylessAuthority("ci", inline, exact), keyAuthority("release", newKeyPEM(t)))},
		{name: "ConfigMap, default key", o: keylessPolicy(cip, "", keylessAuthority("ci", cm("gatehouse-system", "sigstore", ""), exact)), cluster: cluster},
		{name: "ConfigMap of an ImagePolicy, own namespace by default", o: keylessPolicy(ip, "team", keylessAuthority("ci", cm("", "sigstore", "root.json"), exact)), cluster: cluster},
		{name: "ConfigMap of another namespace", o: keylessPolicy(ip, "team", keylessAuthority("ci", cm("gatehouse-system", "sigstore", ""), exact)), cluster: cluster,
			wantErr: "an ImagePolicy may only read ConfigMaps in its own namespace (team)"},
		{name: "ConfigMap without namespace in a cluster policy", o: keylessPolicy(cip, "", keylessAuthority("ci", cm("", "sigstore", ""), exact)), cluster: cluster,
			wantErr: "keyless.trustedRoot.configMapRef.namespace is required in a ClusterImagePolicy"},
		{name: "missing ConfigMap", o: keylessPolicy(cip, "", keylessAuthority("ci", cm("gatehouse-system", "nope", ""), exact)), cluster: cluster,
			wantErr: "reading ConfigMap gatehouse-system/nope"},
		{name: "missing key names the keys there", o: keylessPolicy(ip, "team", keylessAuthority("ci", cm("", "sigstore", ""), exact)), cluster: cluster,
			wantErr: `has no key "trusted_root.json" (it has: root.json)`},
		{name: "ConfigMap without a cluster", o: keylessPolicy(cip, "", keylessAuthority("ci", cm("gatehouse-system", "sigstore", ""), exact)), wantErr: "needs a cluster"},
		{name: "ConfigMap with a reader of Secrets only", o: keylessPolicy(cip, "", keylessAuthority("ci", cm("gatehouse-system", "sigstore", ""), exact)), cluster: fakeSecrets{},
			wantErr: "needs a cluster"},
	}
	runCompileCases(t, tests)
}

// A keyless policy judges real bundles: the signer's identity admits, any
// other identity or trust root is an untrusted signer.
func TestEvaluateKeyless(t *testing.T) {
	host := verifytest.Registry(t)
	sigstore, stranger := verifytest.NewSigstore(t), verifytest.NewSigstore(t)
	d := verifytest.PushImage(t, host+"/app/web:v1")
	verifytest.SignBundleKeyless(t, host+"/app/web", d, sigstore, ciSubject, ciIssuer, verifytest.KeylessOptions{})
	unsigned := verifytest.PushImage(t, host+"/app/unsigned:v1")
	own := v1alpha1.TrustedRootSource{Data: sigstore.TrustedRoot(t, verifytest.RootOptions{})}
	tests := []struct {
		name       string
		image      string
		root       v1alpha1.TrustedRootSource
		id         v1alpha1.Identity
		wantReason verify.Reason
		want       string
	}{
		{name: "exact identity", image: "/app/web:v1", root: own, id: v1alpha1.Identity{Issuer: ciIssuer, Subject: ciSubject}},
		{name: "regexp identity", image: "/app/web:v1", root: own, id: v1alpha1.Identity{Issuer: ciIssuer, SubjectRegExp: `^https://github\.com/org/app/.+@refs/heads/main$`}},
		{name: "wrong subject", image: "/app/web:v1", root: own, id: v1alpha1.Identity{Issuer: ciIssuer, Subject: "https://github.com/org/other/.github/workflows/release.yaml@refs/heads/main"},
			wantReason: verify.ReasonUntrustedSigner, want: "none from a trusted identity"},
		{name: "wrong issuer", image: "/app/web:v1", root: own, id: v1alpha1.Identity{Issuer: "https://accounts.google.com", Subject: ciSubject},
			wantReason: verify.ReasonUntrustedSigner, want: `"ci" (keyless, subject ` + ciSubject + ` from issuer https://accounts.google.com)`},
		{name: "trusted root of another sigstore", image: "/app/web:v1", root: v1alpha1.TrustedRootSource{Data: stranger.TrustedRoot(t, verifytest.RootOptions{})},
			id: v1alpha1.Identity{Issuer: ciIssuer, Subject: ciSubject}, wantReason: verify.ReasonUntrustedSigner},
		{name: "unsigned", image: "/app/unsigned@" + unsigned.String(), root: own, id: v1alpha1.Identity{Issuer: ciIssuer, Subject: ciSubject},
			wantReason: verify.ReasonUnsigned, want: "e.g. cosign sign " + host},
	}
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, keylessPolicy(v1alpha1.KindClusterImagePolicy, "", keylessAuthority("ci", tc.root, tc.id)))
			r := v.Verify(context.Background(), verify.Request{Image: host + tc.image, Authorities: p.Authorities})
			o := p.Evaluate(&r)
			if o.Passed != (tc.wantReason == "") || o.Reason != tc.wantReason || !strings.Contains(o.Message, tc.want) {
				t.Fatalf("outcome %+v, want reason %q and a message containing %q", o, tc.wantReason, tc.want)
			}
		})
	}
}

// A trusted root rotated in its ConfigMap takes effect at the next Resync.
func TestResyncRereadsConfigMaps(t *testing.T) {
	first, second := verifytest.NewSigstore(t), verifytest.NewSigstore(t)
	cluster := fakeCluster{configMaps: map[string]map[string]string{"gatehouse-system/sigstore": {DefaultTrustedRootKey: first.TrustedRoot(t, verifytest.RootOptions{})}}}
	s := NewStore()
	s.UseSecrets(cluster)
	o := keylessPolicy(v1alpha1.KindClusterImagePolicy, "", keylessAuthority("ci",
		v1alpha1.TrustedRootSource{ConfigMapRef: &v1alpha1.ConfigMapKeyRef{Namespace: "gatehouse-system", Name: "sigstore"}},
		v1alpha1.Identity{Issuer: ciIssuer, Subject: ciSubject}))
	if err := s.Apply(o); err != nil {
		t.Fatal(err)
	}
	signer := func() string { return s.Snapshot().cluster[0].Authorities[0].SignerID() }
	before, rev := signer(), s.Snapshot().Revision
	if err := s.Resync(); err != nil || s.Snapshot().Revision != rev {
		t.Fatalf("resync of an unchanged ConfigMap: error %v, revision %d, want %d", err, s.Snapshot().Revision, rev)
	}
	cluster.configMaps["gatehouse-system/sigstore"][DefaultTrustedRootKey] = second.TrustedRoot(t, verifytest.RootOptions{})
	if err := s.Resync(); err != nil {
		t.Fatal(err)
	}
	if signer() == before {
		t.Fatal("the rotated trusted root did not take effect")
	}
	rotated := signer()
	cluster.configMaps["gatehouse-system/sigstore"][DefaultTrustedRootKey] = "not json"
	if err := s.Resync(); err == nil || signer() != rotated || len(s.Errors()) != 1 {
		t.Fatalf("broken trusted root: err %v, kept %v, errors %v", err, signer() == rotated, s.Errors())
	}
}

// Two keyless authorities whose identities overlap (an exact subject and a
// regexp that matches it) are satisfied by one signature; under a threshold
// of 2 that one signer must not count twice.
func TestThresholdCountsDistinctKeylessSigners(t *testing.T) {
	host := verifytest.Registry(t)
	sigstore := verifytest.NewSigstore(t)
	d := verifytest.PushImage(t, host+"/app/web:v1")
	verifytest.SignBundleKeyless(t, host+"/app/web", d, sigstore, ciSubject, ciIssuer, verifytest.KeylessOptions{})
	root := v1alpha1.TrustedRootSource{Data: sigstore.TrustedRoot(t, verifytest.RootOptions{})}
	o := keylessPolicy(v1alpha1.KindClusterImagePolicy, "",
		keylessAuthority("exact", root, v1alpha1.Identity{Issuer: ciIssuer, Subject: ciSubject}),
		keylessAuthority("pattern", root, v1alpha1.Identity{Issuer: ciIssuer, SubjectRegExp: `^https://github\.com/org/.+$`}))
	two := int32(2)
	o.Spec.Threshold = &two
	p := mustCompile(t, o)
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	r := v.Verify(context.Background(), verify.Request{Image: host + "/app/web:v1", Authorities: p.Authorities})
	if len(r.Signatures) != 2 {
		t.Fatalf("setup: want both authorities satisfied by the one signature, got %d", len(r.Signatures))
	}
	out := p.Evaluate(&r)
	if out.Passed || !strings.Contains(out.Message, "2 distinct signers (1 found") {
		t.Fatalf("one signer counted twice: %+v", out)
	}
}
