package policy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// resource is the wire form of both policy kinds.
type resource struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       json.RawMessage   `json:"spec"`
	Status     json.RawMessage   `json:"status,omitempty"`
}

// Decode reads one policy resource from YAML or JSON. Unknown fields are
// refused, so a misspelt field is an error rather than a silently missing
// requirement.
func Decode(data []byte) (Object, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Object{}, err
	}
	var r resource
	if err := strictJSON(js, &r); err != nil {
		return Object{}, err
	}
	if want := v1alpha1.Group + "/" + v1alpha1.Version; r.APIVersion != want {
		return Object{}, fmt.Errorf("apiVersion %q: use %s", r.APIVersion, want)
	}
	o := Object{Kind: r.Kind, Namespace: r.Metadata.Namespace, Name: r.Metadata.Name, Generation: r.Metadata.Generation}
	if len(r.Spec) == 0 {
		return Object{}, fmt.Errorf("%s: spec is required", o.ID())
	}
	if err := strictJSON(r.Spec, &o.Spec); err != nil {
		return Object{}, fmt.Errorf("%s: spec: %w", o.ID(), err)
	}
	return o, nil
}

func strictJSON(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// ReadFiles reads every policy document in the given files and directories
// (*.yaml, *.yml, *.json; multi-document YAML allowed).
func ReadFiles(paths ...string) ([]Object, error) {
	var out []Object
	for _, p := range paths {
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			objs, err := readFile(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			for i := range objs {
				objs[i].Source = SourceFiles
			}
			out = append(out, objs...)
		}
	}
	return out, nil
}

func expand(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no *.yaml, *.yml or *.json files in this directory", path)
	}
	return files, nil
}

func readFile(path string) ([]Object, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ReadDocuments(data)
}

// ReadDocuments decodes every policy in a multi-document YAML stream.
func ReadDocuments(data []byte) ([]Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []Object
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(strings.TrimSpace(string(doc))) == 0 || onlyComments(doc) {
			continue
		}
		o, err := Decode(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		out = append(out, o)
	}
}

func onlyComments(doc []byte) bool {
	for _, l := range bytes.Split(doc, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' {
			return false
		}
	}
	return true
}
