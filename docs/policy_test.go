package docs

import (
	"context"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/manifests"
	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

func compileAll(t *testing.T, where string, objs []policy.Object) {
	t.Helper()
	for _, o := range objs {
		caPEM, crl := docNotation(t)
		if _, err := policy.CompileWith(context.Background(), o, anySecret{trustedRoot: docTrustedRoot(t), caPEM: caPEM, crl: crl}); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
}

// anySecret stands in for the cluster in documented secretRef and
// configMapRef examples: every Secret holds a valid public key, a notation
// CA certificate (ca.crt) and its CRL (ca.crl), and every ConfigMap a valid
// trusted root, under the default key names.
type anySecret struct{ trustedRoot, caPEM, crl string }

func (a anySecret) SecretData(context.Context, string, string) (map[string][]byte, error) {
	return map[string][]byte{"cosign.pub": []byte(docKey), "ca.crt": []byte(a.caPEM), "ca.crl": []byte(a.crl)}, nil
}

func (a anySecret) ConfigMapData(context.Context, string, string) (map[string]string, error) {
	return map[string]string{policy.DefaultTrustedRootKey: a.trustedRoot}, nil
}

var (
	trustedRootOnce sync.Once
	trustedRoot     string
)

// docTrustedRoot is the trusted root of a virtual Sigstore, made once.
func docTrustedRoot(t testing.TB) string {
	trustedRootOnce.Do(func() { trustedRoot = verifytest.NewSigstore(t).TrustedRoot(t, verifytest.RootOptions{}) })
	return trustedRoot
}

var (
	notationOnce   sync.Once
	notationCAPEM  string
	notationCRLPEM string
)

// docNotation is a notation CA and a CRL it signed, made once, standing in
// for those of documented secretRef examples.
func docNotation(t testing.TB) (caPEM, crl string) {
	notationOnce.Do(func() {
		ca := verifytest.NewNotationCA(t, "example release CA")
		notationCAPEM, notationCRLPEM = ca.PEM, ca.CRL(t, time.Now(), time.Now().Add(time.Hour))
	})
	return notationCAPEM, notationCRLPEM
}

const docKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGbuEyesJrt4DK/kttAwUdKNGLwws
T2JAEyp8xB9RaG5IM4+pqmIYwslfIr6BRuwPf6vaVbjKXn0l+hE2TWtVqg==
-----END PUBLIC KEY-----
`

// Every file under docs/examples is a policy gatehouse loads, read the way
// --policy-file reads it.
func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("want at least 2 examples, found %v", files)
	}
	for _, f := range files {
		objs, err := policy.ReadFiles(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(objs) == 0 {
			t.Errorf("%s: no policy in it (only *.yaml, *.yml and *.json are read)", f)
		}
		compileAll(t, f, objs)
	}
	objs, err := policy.ReadFiles("examples")
	if err != nil {
		t.Fatalf("the examples directory as --policy-file: %v", err)
	}
	if len(objs) < len(files) {
		t.Errorf("the examples directory as --policy-file yields %d policies for %d files", len(objs), len(files))
	}
}

// docs/policy-api.md shows each example file verbatim.
func TestDocsShowTheExamples(t *testing.T) {
	var blocks []codeBlock
	for _, page := range markdownFiles(t) {
		_, bs := splitMarkdown(readFile(t, page))
		blocks = append(blocks, bs...)
	}
	files, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		want := readFile(t, f)
		found := false
		for _, b := range blocks {
			found = found || (b.lang == "yaml" && b.text == want)
		}
		if !found {
			t.Errorf("no docs page has a yaml block equal to %s; copy the file into the page that explains it", f)
		}
	}
}

// Every gatehouse policy shown in a yaml block of the docs loads.
func TestPolicyBlocksLoad(t *testing.T) {
	min := map[string]int{"../README.md": 1, "policy-api.md": 2}
	for _, file := range markdownFiles(t) {
		_, blocks := splitMarkdown(readFile(t, file))
		n := 0
		for _, b := range blocks {
			if b.lang != "yaml" || !strings.Contains(b.text, "apiVersion: gatehouse.dev/") {
				continue
			}
			n++
			where := file + ":" + strconv.Itoa(b.line)
			objs, err := policy.ReadDocuments([]byte(b.text))
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			compileAll(t, where, objs)
		}
		if n < min[file] {
			t.Errorf("%s: found %d gatehouse policies in yaml blocks, want at least %d", file, n, min[file])
		}
	}
}

// The short names the docs give are the CRDs'.
func TestShortNames(t *testing.T) {
	md := readFile(t, "policy-api.md")
	crds, err := fs.Glob(manifests.Base, "base/crds/*.yaml")
	if err != nil || len(crds) == 0 {
		t.Fatalf("no CRDs in manifests: %v", err)
	}
	for _, f := range crds {
		data, err := fs.ReadFile(manifests.Base, f)
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Spec struct {
				Names struct {
					Kind       string   `json:"kind"`
					ShortNames []string `json:"shortNames"`
				} `json:"names"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, s := range crd.Spec.Names.ShortNames {
			want := "**" + crd.Spec.Names.Kind + "** (short name `" + s + "`)"
			if !strings.Contains(md, want) {
				t.Errorf("docs/policy-api.md should say %s", want)
			}
		}
	}
}
