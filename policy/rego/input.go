package rego

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"

	"gatehouse.dev/gatehouse/verify"
)

// InputVersion is the apiVersion of Input. A change that removes or
// renames a field makes a new version.
const InputVersion = "gatehouse.dev/input/v1alpha1"

// Input is the document a module evaluates as input, once per image and
// policy. docs/rego.md documents it field by field.
type Input struct {
	// APIVersion is InputVersion.
	APIVersion string `json:"apiVersion"`
	// Request is the admission request.
	Request Request `json:"request"`
	// Object is the object being admitted (a Pod, or a controller with a pod
	// template), as the API server sent it.
	Object json.RawMessage `json:"object"`
	// Policy names the policy whose module runs.
	Policy Policy `json:"policy"`
	// Image is the image being judged and what gatehouse verified about
	// it, for a module of scope image (the default).
	Image *Image `json:"image,omitempty"`
	// Images are every image of the object the policy matches, for a module
	// of scope pod, judged once per request.
	Images []Image `json:"images,omitempty"`
}

// Request is the part of the admission request a policy may use.
type Request struct {
	UID       string `json:"uid"`
	Operation string `json:"operation"` // CREATE or UPDATE
	Kind      Kind   `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	DryRun    bool   `json:"dryRun"`
	User      User   `json:"user"`
}

// Kind is a group, version and kind.
type Kind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// User is who sent the request.
type User struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

// Policy names a policy.
type Policy struct {
	// Name is "ClusterImagePolicy/<name>" or "ImagePolicy/<namespace>/<name>".
	Name string `json:"name"`
	// Revision is the module's revision, "sha256:<hex>".
	Revision string `json:"revision"`
}

// Image is one image of the object.
type Image struct {
	// Field is where the image is written: containers, initContainers,
	// ephemeralContainers or volumes.
	Field string `json:"field"`
	// Container is the container's (or image volume's) name.
	Container string `json:"container"`
	// Result is what gatehouse verified: reference, canonical repository,
	// tag, digest, signatures, platforms. Its fields appear inline.
	verify.Result
}

// Value converts in to the form the evaluator takes, once per evaluation.
func (in *Input) Value() (ast.Value, error) {
	if in.Object == nil {
		in.Object = json.RawMessage("{}")
	}
	if in.Image != nil && in.Image.Signatures == nil {
		in.Image.Signatures = []verify.Signature{}
	}
	data, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("rego input: %w", err)
	}
	v, err := ast.ValueFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("rego input: %w", err)
	}
	return v, nil
}
