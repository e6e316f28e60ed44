package migrate

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// roots names a ConfigMap for Sigstore's public instance and for the
// TrustRoot "private".
var roots = Options{
	PublicTrustedRoot: &v1alpha1.ConfigMapKeyRef{Namespace: "gatehouse-system", Name: "public-root", Key: "trusted_root.json"},
	TrustRoots:        map[string]v1alpha1.ConfigMapKeyRef{"private": {Namespace: "gatehouse-system", Name: "private-root", Key: "trusted_root.json"}},
}

// Gatehouse keyless fragments of the expected specs.
const (
	publicRoot  = `trustedRoot: {configMapRef: {namespace: gatehouse-system, name: public-root, key: trusted_root.json}}`
	privateRoot = `trustedRoot: {configMapRef: {namespace: gatehouse-system, name: private-root, key: trusted_root.json}}`
	githubID    = `{issuer: https://token.actions.githubusercontent.com, subject: https://github.com/org/repo/.github/workflows/release.yaml@refs/heads/main}`
)

type convertCase struct {
	name    string
	version string // v1beta1 unless set
	opts    Options
	spec    string // policy-controller spec; KEY1 and KEY2 stand for keys
	want    string // gatehouse spec; "" when no policy is written
	notes   []string
	exact   bool
}

func TestConvert(t *testing.T) {
	var cases []convertCase
	cases = append(cases, keyCases...)
	cases = append(cases, keylessCases...)
	cases = append(cases, logCases...)
	cases = append(cases, unmappableCases...)
	cases = append(cases, policyCases...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runConvertCase(t, tc) })
	}
}

var keyCases = []convertCase{
	{name: "inline key", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: release, key: {data: KEY1}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: release, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"mapped spec.authorities[0].key.data", "mapped spec.mode"}, exact: true},
	{name: "key in a secret of policy-controller's namespace", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {secretRef: {name: release}}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {secretRef: {namespace: cosign-system, name: release, key: cosign.pub}}}], require: any, mode: enforce}`,
		notes: []string{"mapped spec.authorities[0].key.secretRef"}, exact: true},
	{name: "secret namespace from the options", opts: Options{SecretNamespace: "sigstore"}, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {secretRef: {name: release}}}]}`,
		want: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {secretRef: {namespace: sigstore, name: release, key: cosign.pub}}}], require: any, mode: enforce}`, exact: true},
	{name: "secret namespace named in the policy", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {secretRef: {namespace: pc, name: release}}}]}`,
		want: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {secretRef: {namespace: pc, name: release, key: cosign.pub}}}], require: any, mode: enforce}`, exact: true},
	{name: "hash algorithm normalised", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1, hashAlgorithm: SHA384}}]}`,
		want: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1, hashAlgorithm: sha384}}], require: any, mode: enforce}`, exact: true},
	{name: "sha224 dropped", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1, hashAlgorithm: sha224}}, {name: b, key: {data: KEY2}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: b, key: {data: KEY2}}], require: any, mode: enforce}`,
		notes: []string{"dropped spec.authorities[0].key.hashAlgorithm"}},
	{name: "kms dropped", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {kms: "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"}}, {name: b, key: {data: KEY2}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: b, key: {data: KEY2}}], require: any, mode: enforce}`,
		notes: []string{"dropped spec.authorities[0].key.kms"}},
	{name: "key with a log entry required", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}, ctlog: {url: "https://rekor.example.com"}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"changed spec.authorities[0].ctlog"}},
	{name: "key with a timestamp required", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}, rfc3161timestamp: {trustRootRef: private}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"changed spec.authorities[0].rfc3161timestamp"}},
	{name: "same key twice", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}}, {name: b, key: {data: KEY1}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"ignored spec.authorities[1]"}, exact: true},
	{name: "same key with another hash", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}}, {name: b, key: {data: KEY1, hashAlgorithm: sha512}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"changed spec.authorities[1]"}},
	{name: "names made DNS labels", spec: `{images: [{glob: registry.example.com/**}], authorities: [{key: {data: KEY1}}, {name: Release Key, key: {data: KEY2}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: authority-0, key: {data: KEY1}}, {name: release-key, key: {data: KEY2}}], require: any, mode: enforce}`,
		notes: []string{"mapped spec.authorities[0].name", "mapped spec.authorities[1].name"}, exact: true},
}

var keylessCases = []convertCase{
	{name: "keyless without a public trusted root", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.sigstore.dev", identities: [` + githubID + `]}}]}`,
		notes: []string{"dropped spec.authorities[0].keyless", "dropped spec"}},
	{name: "keyless on the public instance", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.sigstore.dev", identities: [` + githubID + `]}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 1, ` + publicRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"mapped spec.authorities[0].keyless", "ignored spec.authorities[0].keyless.url", "mapped spec.authorities[0].keyless.identities"}, exact: true},
	{name: "unanchored regexps wrapped", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.sigstore.dev", identities: [{issuerRegExp: "token\\.actions", subjectRegExp: "^https://github\\.com/org/|x$"}]}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [{issuerRegExp: "^(?:token\\.actions)$", subjectRegExp: "^(?:^https://github\\.com/org/|x$)$"}], transparencyLogThreshold: 1, ` + publicRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"changed spec.authorities[0].keyless.identities[0].issuerRegExp", "changed spec.authorities[0].keyless.identities[0].subjectRegExp"}},
	{name: "anchored regexps kept", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.sigstore.dev", identities: [{issuer: "https://token.actions.githubusercontent.com", subjectRegExp: "^https://github\\.com/org/(a|b)/.*$"}]}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [{issuer: "https://token.actions.githubusercontent.com", subjectRegExp: "^https://github\\.com/org/(a|b)/.*$"}], transparencyLogThreshold: 1, ` + publicRoot + `}}], require: any, mode: enforce}`,
		exact: true},
	{name: "trust root without a configmap", opts: Options{PublicTrustedRoot: roots.PublicTrustedRoot}, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.example.com", trustRootRef: private, identities: [` + githubID + `]}, ctlog: {url: "https://rekor.example.com", trustRootRef: private}}]}`,
		notes: []string{"dropped spec.authorities[0].keyless.trustRootRef", "dropped spec"}},
	{name: "trust root with its log", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.example.com", trustRootRef: private, identities: [` + githubID + `]}, ctlog: {url: "https://rekor.example.com", trustRootRef: private}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 1, ` + privateRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"mapped spec.authorities[0].keyless.trustRootRef", "mapped spec.authorities[0].ctlog", "ignored spec.authorities[0].ctlog.url"}, exact: true},
	{name: "ca-cert never read", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {ca-cert: {data: KEY1}, identities: [` + githubID + `]}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 1, ` + publicRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"dropped spec.authorities[0].keyless.ca-cert"}},
	{name: "insecureIgnoreSCT", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.sigstore.dev", insecureIgnoreSCT: true, identities: [` + githubID + `]}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 1, ` + publicRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"changed spec.authorities[0].keyless.insecureIgnoreSCT"}},
	{name: "bundle format", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, signatureFormat: bundle, keyless: {url: "https://fulcio.sigstore.dev", identities: [` + githubID + `]}}, {name: k, signatureFormat: bundle, key: {data: KEY1}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 1, ` + publicRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"ignored spec.authorities[0].signatureFormat", "ignored spec.authorities[1].signatureFormat"}, exact: true},
}

// logCases follow when policy-controller requires a transparency log entry.
var logCases = []convertCase{
	{name: "trust root without ctlog skips the log", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.example.com", trustRootRef: private, identities: [` + githubID + `]}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 0, ` + privateRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"changed spec.authorities[0].ctlog"}},
	{name: "timestamp instead of the log", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.example.com", trustRootRef: private, identities: [` + githubID + `]}, rfc3161timestamp: {trustRootRef: private}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 0, ` + privateRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"mapped spec.authorities[0].rfc3161timestamp"}, exact: true},
	{name: "v1beta1 ctlog without url is lost in storage", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.example.com", trustRootRef: private, identities: [` + githubID + `]}, ctlog: {trustRootRef: private}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 0, ` + privateRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"ignored spec.authorities[0].ctlog", "changed spec.authorities[0].ctlog"}},
	{name: "v1alpha1 ctlog without url requires the log", version: "v1alpha1", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.example.com", trustRootRef: private, identities: [` + githubID + `]}, ctlog: {trustRootRef: private}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 1, ` + privateRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"mapped spec.authorities[0].ctlog"}, exact: true},
	{name: "v1alpha1 empty ctlog skips the log", version: "v1alpha1", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.sigstore.dev", identities: [` + githubID + `]}, ctlog: {}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 0, ` + publicRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"changed spec.authorities[0].ctlog"}},
	{name: "log keys from another trust root", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {url: "https://fulcio.sigstore.dev", identities: [` + githubID + `]}, ctlog: {url: "https://rekor.example.com", trustRootRef: private}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, keyless: {identities: [` + githubID + `], transparencyLogThreshold: 1, ` + publicRoot + `}}], require: any, mode: enforce}`,
		notes: []string{"changed spec.authorities[0].ctlog"}},
	{name: "bundle with a timestamp from another trust root never passed", opts: roots, spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: ci, signatureFormat: bundle, keyless: {url: "https://fulcio.sigstore.dev", identities: [` + githubID + `]}, rfc3161timestamp: {trustRootRef: private}}, {name: k, key: {data: KEY1}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"ignored spec.authorities[0].signatureFormat"}, exact: true},
}

var unmappableCases = []convertCase{
	{name: "static fail adds nothing", spec: `{images: [{glob: registry.example.com/**}], authorities: [{static: {action: fail}}, {name: k, key: {data: KEY1}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"ignored spec.authorities[0].static"}, exact: true},
	{name: "static fail alone", spec: `{images: [{glob: registry.example.com/**}], authorities: [{static: {action: fail}}]}`,
		notes: []string{"dropped spec"}},
	{name: "static pass alone", spec: `{images: [{glob: "*"}], authorities: [{static: {action: pass}}]}`,
		notes: []string{"dropped spec.authorities[0].static", "dropped spec"}},
	{name: "static pass with a key", spec: `{images: [{glob: registry.example.com/**}], authorities: [{static: {action: pass}}, {name: k, key: {data: KEY1}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"dropped spec.authorities[0].static"}},
	{name: "attestations", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}, attestations: [{name: prov, predicateType: "https://slsa.dev/provenance/v1"}]}, {name: k, key: {data: KEY2}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY2}}], require: any, mode: enforce}`,
		notes: []string{"dropped spec.authorities[0].attestations"}},
	{name: "signatures in another repository", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}, source: [{oci: registry.example.com/signatures}]}, {name: k, key: {data: KEY2}}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY2}}], require: any, mode: enforce}`,
		notes: []string{"dropped spec.authorities[0].source[0].oci"}},
	{name: "signature pull secrets", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}, source: [{signaturePullSecrets: [{name: regcred}]}]}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: a, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"changed spec.authorities[0].source[0].signaturePullSecrets"}},
	{name: "no glob left", spec: `{images: [{glob: registry.example.com/Prod/**}], authorities: [{name: k, key: {data: KEY1}}]}`,
		notes: []string{"dropped spec.images[0].glob", "dropped spec"}},
}

var policyCases = []convertCase{
	{name: "warn mode", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY1}}], mode: warn}`,
		want: `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY1}}], require: any, mode: warn}`, exact: true},
	{name: "globs translated and merged", spec: `{images: [{glob: "*"}, {glob: "index.docker.io/library/*"}, {glob: example-org/*}], authorities: [{name: k, key: {data: KEY1}}]}`,
		want:  `{images: [{glob: docker.io/library/*}, {glob: docker.io/example-org/*}], authorities: [{name: k, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"mapped spec.images[0].glob", "mapped spec.images[1].glob", "changed spec.images[2].glob"}},
	{name: "cue policy", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY1}}], policy: {type: cue, data: "before: <\"2030-01-01\""}}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"dropped spec.policy"}},
	{name: "resource match", spec: `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY1}}], match: [{group: apps, version: v1, resource: deployments}]}`,
		want:  `{images: [{glob: registry.example.com/**}], authorities: [{name: k, key: {data: KEY1}}], require: any, mode: enforce}`,
		notes: []string{"dropped spec.match"}},
	{name: "more authorities than gatehouse allows", spec: seventeenKeys(), notes: []string{"dropped spec.authorities"}},
}

// seventeenKeys is a policy of 17 key authorities, each a different key.
func seventeenKeys() string {
	var as []string
	for i := range 17 {
		as = append(as, fmt.Sprintf("{name: k%d, key: {data: %s}}", i, strconv.Quote(newKeyPEM())))
	}
	return `{images: [{glob: registry.example.com/**}], authorities: [` + strings.Join(as, ", ") + `]}`
}

func runConvertCase(t *testing.T, tc convertCase) {
	t.Helper()
	version := tc.version
	if version == "" {
		version = "v1beta1"
	}
	keys := strings.NewReplacer("KEY1", strconv.Quote(testKey), "KEY2", strconv.Quote(otherKey))
	doc := fmt.Sprintf("apiVersion: policy.sigstore.dev/%s\nkind: ClusterImagePolicy\nmetadata: {name: p}\nspec: %s\n", version, keys.Replace(tc.spec))
	docs, err := ReadDocuments([]byte(doc))
	if err != nil || len(docs) != 1 {
		t.Fatalf("ReadDocuments: %d documents, %v", len(docs), err)
	}
	r := ConvertDocument(docs[0], tc.opts)
	var report strings.Builder
	if err := WriteReport(&report, []Result{r}); err != nil {
		t.Fatal(err)
	}
	checkSpec(t, r, keys.Replace(tc.want), report.String())
	for _, want := range tc.notes {
		if !slices.ContainsFunc(r.Notes, func(n Note) bool { return n.Kind.String()+" "+n.Field == want }) {
			t.Errorf("no note %q in the report:\n%s", want, report.String())
		}
	}
	if r.Exact() != tc.exact {
		t.Errorf("Exact() = %t, want %t:\n%s", r.Exact(), tc.exact, report.String())
	}
}

func checkSpec(t *testing.T, r Result, want, report string) {
	t.Helper()
	if want == "" {
		if r.Policy != nil {
			t.Fatalf("a policy was written, want none:\n%s", report)
		}
		return
	}
	if r.Policy == nil {
		t.Fatalf("no policy written:\n%s", report)
	}
	if got := r.Policy.Annotations[AnnotationMigratedFrom]; r.Policy.Name != "p" || !strings.HasSuffix(got, " ClusterImagePolicy p") {
		t.Errorf("name %q, annotation %q", r.Policy.Name, got)
	}
	got, err := json.Marshal(r.Policy.Spec)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, err := yaml.YAMLToJSON([]byte(want))
	if err != nil {
		t.Fatalf("want: %v", err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wantJSON, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("spec\n got: %s\nwant: %s\n%s", got, wantJSON, report)
	}
}
