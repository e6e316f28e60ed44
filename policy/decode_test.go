package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// policyYAML renders one policy document; spec is indented under "spec:".
func policyYAML(kind, ns, name, spec string) string {
	meta := "  name: " + name + "\n"
	if ns != "" {
		meta += "  namespace: " + ns + "\n"
	}
	return "apiVersion: gatehouse.dev/v1alpha1\nkind: " + kind + "\nmetadata:\n" + meta + "spec:\n" + spec
}

// specYAML is a valid spec trusting pem, indented for policyYAML.
func specYAML(glob, pem string) string {
	return "  images:\n  - glob: \"" + glob + "\"\n  authorities:\n  - name: ci\n    key:\n      data: |\n" + indent(pem, "        ")
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix) + "\n"
}

func TestDecode(t *testing.T) {
	pem := newKeyPEM(t)
	no := false
	full := v1alpha1.ImagePolicy{
		Spec: v1alpha1.ImagePolicySpec{
			Images:      globs("registry.example.com/team/**"),
			Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: pem, HashAlgorithm: "sha384"}}},
			Require:     v1alpha1.RequireAny, Mode: v1alpha1.ModeWarn, PinDigest: &no,
		},
	}
	full.APIVersion, full.Kind = "gatehouse.dev/v1alpha1", v1alpha1.KindImagePolicy
	full.Name, full.Namespace = "web", "team-a"
	fullJSON, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		doc     string
		wantID  string
		check   func(*testing.T, Object)
		wantErr []string
	}{
		{
			name:   "YAML cluster policy with comments",
			doc:    "# the production policy\n" + policyYAML("ClusterImagePolicy", "", "prod", "  # every image\n"+specYAML("**", pem)),
			wantID: "ClusterImagePolicy/prod",
			check: func(t *testing.T, o Object) {
				if len(o.Spec.Images) != 1 || o.Spec.Images[0].Glob != "**" || len(o.Spec.Authorities) != 1 || o.Spec.Authorities[0].Key.Data != pem {
					t.Errorf("spec %+v", o.Spec)
				}
			},
		},
		{
			name:   "JSON namespaced policy with every field",
			doc:    string(fullJSON),
			wantID: "ImagePolicy/team-a/web",
			check: func(t *testing.T, o Object) {
				s := o.Spec
				if s.Require != v1alpha1.RequireAny || s.Mode != v1alpha1.ModeWarn || s.PinDigest == nil || *s.PinDigest || s.Authorities[0].Key.HashAlgorithm != "sha384" {
					t.Errorf("spec %+v", s)
				}
			},
		},
		{
			name: "metadata as the API server returns it, and status",
			doc: "apiVersion: gatehouse.dev/v1alpha1\nkind: ClusterImagePolicy\nmetadata:\n  name: prod\n" +
				"  labels: {team: platform}\n  annotations: {note: x}\n  uid: 0b6c3a5e-7a4c-4b43-9f7c-1c0c8d1c5e11\n" +
				"  resourceVersion: \"12345\"\n  generation: 3\n  creationTimestamp: \"2025-01-02T03:04:05Z\"\n" +
				"  managedFields:\n  - manager: kubectl\n    operation: Apply\n    apiVersion: gatehouse.dev/v1alpha1\n" +
				"    time: \"2025-01-02T03:04:05Z\"\n    fieldsType: FieldsV1\n    fieldsV1: {\"f:spec\": {\"f:images\": {}}}\n" +
				"spec:\n" + specYAML("docker.io/**", pem) + "status:\n  observedGeneration: 3\n",
			wantID: "ClusterImagePolicy/prod",
		},
		{name: "misspelt spec field", doc: policyYAML("ClusterImagePolicy", "", "prod", "  images: [{glob: \"**\"}]\n  autorities: []\n"), wantErr: []string{"ClusterImagePolicy/prod: spec:", "autorities"}},
		{name: "misspelt key field", doc: policyYAML("ClusterImagePolicy", "", "prod", "  images: [{glob: \"**\"}]\n  authorities: [{name: ci, key: {data: x, hashAlgo: sha256}}]\n"), wantErr: []string{"hashAlgo"}},
		{name: "misspelt glob field", doc: policyYAML("ClusterImagePolicy", "", "prod", "  images: [{pattern: \"**\"}]\n"), wantErr: []string{"pattern"}},
		{name: "unknown top-level field", doc: policyYAML("ClusterImagePolicy", "", "prod", specYAML("docker.io/**", pem)) + "specs: {}\n", wantErr: []string{"specs"}},
		{name: "wrong apiVersion", doc: strings.Replace(policyYAML("ClusterImagePolicy", "", "prod", specYAML("**", pem)), "v1alpha1", "v1", 1), wantErr: []string{`apiVersion "gatehouse.dev/v1"`, "use gatehouse.dev/v1alpha1"}},
		{name: "another group", doc: strings.Replace(policyYAML("ClusterImagePolicy", "", "prod", specYAML("**", pem)), "gatehouse.dev/v1alpha1", "policy.sigstore.dev/v1beta1", 1), wantErr: []string{`apiVersion "policy.sigstore.dev/v1beta1"`}},
		{name: "missing apiVersion", doc: "kind: ClusterImagePolicy\nmetadata: {name: prod}\nspec: {}\n", wantErr: []string{`apiVersion ""`}},
		{name: "missing spec", doc: "apiVersion: gatehouse.dev/v1alpha1\nkind: ClusterImagePolicy\nmetadata: {name: prod}\n", wantErr: []string{"ClusterImagePolicy/prod: spec is required"}},
		{name: "wrong type", doc: policyYAML("ClusterImagePolicy", "", "prod", "  images: docker.io/**\n"), wantErr: []string{"spec"}},
		{name: "not YAML", doc: "apiVersion: [unclosed\n", wantErr: []string{"yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Decode([]byte(tt.doc))
			if tt.wantErr != nil {
				wantErrContaining(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if o.ID() != tt.wantID {
				t.Errorf("ID %q, want %q", o.ID(), tt.wantID)
			}
			if tt.check != nil {
				tt.check(t, o)
			}
			if _, err := Compile(o); err != nil {
				t.Errorf("decoded policy does not compile: %v", err)
			}
		})
	}
}

func TestReadDocuments(t *testing.T) {
	pem := newKeyPEM(t)
	cluster := policyYAML("ClusterImagePolicy", "", "prod", specYAML("docker.io/**", pem))
	namespaced := policyYAML("ImagePolicy", "team-a", "web", specYAML("registry.example.com/**", pem))
	bad := policyYAML("ClusterImagePolicy", "", "bad", "  autorities: []\n")
	tests := []struct {
		name    string
		stream  string
		wantIDs []string
		wantErr []string
	}{
		{name: "empty stream", stream: "", wantIDs: nil},
		{name: "only comments and separators", stream: "# nothing here\n---\n\n---\n# still nothing\n", wantIDs: nil},
		{name: "one document", stream: cluster, wantIDs: []string{"ClusterImagePolicy/prod"}},
		{
			name:    "several documents with comments and empty ones",
			stream:  "# policies for prod\n---\n" + cluster + "---\n---\n# the team's own\n" + namespaced + "---\n# trailing comment\n",
			wantIDs: []string{"ClusterImagePolicy/prod", "ImagePolicy/team-a/web"},
		},
		{name: "leading separator", stream: "---\n" + cluster, wantIDs: []string{"ClusterImagePolicy/prod"}},
		{name: "bad document is numbered", stream: cluster + "---\n" + namespaced + "---\n" + bad, wantErr: []string{"document 3", "autorities"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := ReadDocuments([]byte(tt.stream))
			if tt.wantErr != nil {
				wantErrContaining(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("ReadDocuments: %v", err)
			}
			assertObjectIDs(t, objs, tt.wantIDs)
		})
	}
}

func assertObjectIDs(t *testing.T, objs []Object, want []string) {
	t.Helper()
	var got []string
	for _, o := range objs {
		got = append(got, o.ID())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got objects %q, want %q", got, want)
	}
}

func TestReadFiles(t *testing.T) {
	pem := newKeyPEM(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	asJSON := func(yamlDoc string) string {
		o, err := Decode([]byte(yamlDoc))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(map[string]any{"apiVersion": "gatehouse.dev/v1alpha1", "kind": o.Kind, "metadata": map[string]string{"name": o.Name}, "spec": o.Spec})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	policies := write("policies/a.yaml", policyYAML("ClusterImagePolicy", "", "a1", specYAML("docker.io/**", pem))+"---\n"+
		policyYAML("ImagePolicy", "team-a", "a2", specYAML("docker.io/**", pem)))
	write("policies/b.yml", policyYAML("ClusterImagePolicy", "", "b", specYAML("quay.io/**", pem)))
	write("policies/c.json", asJSON(policyYAML("ClusterImagePolicy", "", "c", specYAML("ghcr.io/**", pem))))
	write("policies/README.md", "not a policy: {{")
	write("policies/notes.txt", "kind: nonsense")
	single := write("single.yaml", policyYAML("ClusterImagePolicy", "", "single", specYAML("**", pem)))
	broken := write("broken/bad.yaml", policyYAML("ClusterImagePolicy", "", "bad", "  autorities: []\n"))
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		paths   []string
		wantIDs []string
		wantErr []string
	}{
		{name: "directory reads yaml, yml and json only", paths: []string{filepath.Dir(policies)},
			wantIDs: []string{"ClusterImagePolicy/a1", "ImagePolicy/team-a/a2", "ClusterImagePolicy/b", "ClusterImagePolicy/c"}},
		{name: "single file", paths: []string{single}, wantIDs: []string{"ClusterImagePolicy/single"}},
		{name: "file and directory", paths: []string{single, filepath.Dir(policies)},
			wantIDs: []string{"ClusterImagePolicy/single", "ClusterImagePolicy/a1", "ImagePolicy/team-a/a2", "ClusterImagePolicy/b", "ClusterImagePolicy/c"}},
		{name: "empty directory is refused", paths: []string{empty}, wantErr: []string{"no *.yaml, *.yml or *.json files"}},
		{name: "missing path", paths: []string{filepath.Join(dir, "nope.yaml")}, wantErr: []string{"nope.yaml"}},
		{name: "bad file is named", paths: []string{single, filepath.Dir(broken)}, wantErr: []string{broken, "document 1", "autorities"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := ReadFiles(tt.paths...)
			if tt.wantErr != nil {
				wantErrContaining(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("ReadFiles: %v", err)
			}
			assertObjectIDs(t, objs, tt.wantIDs)
		})
	}
}
