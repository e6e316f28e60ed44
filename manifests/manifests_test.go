package manifests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// namespace is where gatehouse runs.
const namespace = "gatehouse-system"

// document is one YAML document of the base.
type document struct {
	file string
	kind string
	name string
	raw  []byte
}

// loadDocuments reads every YAML document under base except the
// kustomization itself.
func loadDocuments(t *testing.T) []document {
	t.Helper()
	var docs []document
	for _, file := range yamlFiles(t) {
		if file == "kustomization.yaml" {
			continue
		}
		data, err := fs.ReadFile(Base, path.Join("base", file))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, splitDocuments(t, file, data)...)
	}
	return docs
}

// splitDocuments splits a multi-document YAML file, skipping empty documents.
func splitDocuments(t *testing.T, file string, data []byte) []document {
	t.Helper()
	var docs []document
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var head struct {
			metav1.TypeMeta   `json:",inline"`
			metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(raw, &head); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if head.Kind == "" && head.Name == "" {
			continue // only comments
		}
		if head.Kind == "" || head.Name == "" {
			t.Fatalf("%s: a document lacks kind or metadata.name", file)
		}
		docs = append(docs, document{file: file, kind: head.Kind, name: head.Name, raw: raw})
	}
}

// yamlFiles lists the YAML files under base, relative to base.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := fs.WalkDir(Base, "base", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") {
			t.Errorf("%s: not a YAML file", p)
			return nil
		}
		files = append(files, strings.TrimPrefix(p, "base/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// decodeAll strictly decodes every document of one kind, so a misspelt or
// misplaced field fails the test instead of being dropped.
func decodeAll[T any](t *testing.T, docs []document, kind string) []T {
	t.Helper()
	var out []T
	for _, d := range docs {
		if d.kind != kind {
			continue
		}
		var obj T
		if err := decodeStrict(d.raw, &obj); err != nil {
			t.Fatalf("%s: %s %s: %v", d.file, kind, d.name, err)
		}
		out = append(out, obj)
	}
	return out
}

// decodeStrict decodes YAML as the API server does with strict field
// validation: keys are case-sensitive, and duplicate or unknown keys are
// errors. A key is unknown when it does not survive a round trip through obj.
func decodeStrict(raw []byte, obj any) error {
	data, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return err
	}
	if err := utiljson.Unmarshal(data, obj); err != nil {
		return err
	}
	back, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	var in, out any
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	if err := json.Unmarshal(back, &out); err != nil {
		return err
	}
	return unknownKeys("", in, out)
}

// unknownKeys returns an error naming the first key of in missing from out.
func unknownKeys(path string, in, out any) error {
	switch in := in.(type) {
	case map[string]any:
		outMap, _ := out.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(in)) {
			v, ok := outMap[k]
			if !ok {
				return fmt.Errorf("unknown field %s.%s", path, k)
			}
			if err := unknownKeys(path+"."+k, in[k], v); err != nil {
				return err
			}
		}
	case []any:
		outList, _ := out.([]any)
		for i := range in {
			if i >= len(outList) {
				return fmt.Errorf("%s[%d] lost in decoding", path, i)
			}
			if err := unknownKeys(fmt.Sprintf("%s[%d]", path, i), in[i], outList[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeOne decodes the single document of one kind.
func decodeOne[T any](t *testing.T, docs []document, kind string) T {
	t.Helper()
	objs := decodeAll[T](t, docs, kind)
	if len(objs) != 1 {
		t.Fatalf("want exactly one %s, found %d", kind, len(objs))
	}
	return objs[0]
}

func TestKustomizationListsEveryFile(t *testing.T) {
	data, err := fs.ReadFile(Base, "base/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := decodeStrict(data, &k); err != nil {
		t.Fatal(err)
	}
	if k.Kind != "Kustomization" {
		t.Errorf("kind = %q, want Kustomization", k.Kind)
	}
	listed := slices.Sorted(slices.Values(k.Resources))
	if c := slices.Compact(slices.Clone(listed)); len(c) != len(listed) {
		t.Errorf("resources list a file twice: %v", k.Resources)
	}
	present := slices.DeleteFunc(yamlFiles(t), func(f string) bool { return f == "kustomization.yaml" })
	slices.Sort(present)
	if !slices.Equal(listed, present) {
		t.Errorf("kustomization resources = %v, files present = %v", listed, present)
	}
}

func TestEveryObjectIsNamedOnce(t *testing.T) {
	seen := map[string]string{}
	for _, d := range loadDocuments(t) {
		key := d.kind + "/" + d.name
		if prev, ok := seen[key]; ok {
			t.Errorf("%s in both %s and %s", key, prev, d.file)
		}
		seen[key] = d.file
	}
}
