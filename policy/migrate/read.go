package migrate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	pcv1alpha1 "github.com/sigstore/policy-controller/pkg/apis/policy/v1alpha1"
	pcv1beta1 "github.com/sigstore/policy-controller/pkg/apis/policy/v1beta1"
	pcconfig "github.com/sigstore/policy-controller/pkg/config"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"knative.dev/pkg/apis"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Document is one policy-controller resource read from the input: a
// ClusterImagePolicy of either version, or a TrustRoot, which is not a
// policy and is converted by naming a ConfigMap (Options.TrustRoots).
type Document struct {
	V1alpha1  *pcv1alpha1.ClusterImagePolicy
	V1beta1   *pcv1beta1.ClusterImagePolicy
	TrustRoot string // the TrustRoot's name
}

const (
	pcGroup     = "policy.sigstore.dev"
	kindCIP     = "ClusterImagePolicy"
	kindCIPList = "ClusterImagePolicyList"
	kindRoot    = "TrustRoot"
)

// header is what every document is first read as, to pick its type.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// ReadDocuments decodes a YAML or JSON stream of policy-controller
// resources: ClusterImagePolicies of policy.sigstore.dev/v1alpha1 and
// v1beta1, TrustRoots, and Lists of them (as kubectl get -o yaml writes).
// Decoding is strict: an unknown, duplicate or wrongly cased field is an
// error, and so is a policy policy-controller itself would refuse.
func ReadDocuments(data []byte) ([]Document, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []Document
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if blank(doc) {
			continue
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		docs, err := decode(js, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		out = append(out, docs...)
	}
}

func blank(doc []byte) bool {
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 && l[0] != '#' {
			return false
		}
	}
	return true
}

// decode reads one JSON document; list is the header of the
// ClusterImagePolicyList it is an item of, if any: items may leave out
// their apiVersion and kind.
func decode(js []byte, list *header) ([]Document, error) {
	var h header
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, err
	}
	if list != nil && h.APIVersion == "" && h.Kind == "" {
		h.APIVersion, h.Kind = list.APIVersion, kindCIP
	}
	group, _, _ := strings.Cut(h.APIVersion, "/")
	switch {
	case h.Kind == "List" && h.APIVersion == "v1":
		return decodeItems(h.Items, nil)
	case group == pcGroup && h.Kind == kindCIPList:
		return decodeItems(h.Items, &h)
	case group == pcGroup && h.Kind == kindRoot:
		return []Document{{TrustRoot: h.Metadata.Name}}, nil
	case h.APIVersion == pcv1alpha1.SchemeGroupVersion.String() && h.Kind == kindCIP:
		p := &pcv1alpha1.ClusterImagePolicy{}
		if err := strict(js, p); err != nil {
			return nil, err
		}
		return []Document{{V1alpha1: p}}, validateV1alpha1(p)
	case h.APIVersion == pcv1beta1.SchemeGroupVersion.String() && h.Kind == kindCIP:
		p := &pcv1beta1.ClusterImagePolicy{}
		if err := strict(js, p); err != nil {
			return nil, err
		}
		return []Document{{V1beta1: p}}, validateV1beta1(p)
	}
	return nil, fmt.Errorf("apiVersion %q kind %q: not a policy-controller ClusterImagePolicy (%s/v1alpha1 or v1beta1)", h.APIVersion, h.Kind, pcGroup)
}

func decodeItems(items []json.RawMessage, list *header) ([]Document, error) {
	var out []Document
	for j, item := range items {
		docs, err := decode(item, list)
		if err != nil {
			return nil, fmt.Errorf("items[%d]: %w", j, err)
		}
		out = append(out, docs...)
	}
	return out, nil
}

// strict decodes js into v, refusing unknown, duplicate and wrongly cased
// fields, as the API server does with strict field validation.
func strict(js []byte, v any) error {
	strictErrs, err := sigsjson.UnmarshalStrict(js, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// validateV1alpha1 and validateV1beta1 run policy-controller's own
// validation, which refuses what its admission webhook refuses. It reads
// the namespace policy-controller runs in from the environment to check a
// secretRef.namespace, so that check is left out: the namespace named is
// the one used.
func validateV1alpha1(p *pcv1alpha1.ClusterImagePolicy) error {
	c := p.DeepCopy()
	for _, a := range c.Spec.Authorities {
		if a.Key != nil {
			clearNamespace(a.Key.SecretRef)
		}
		if a.Keyless != nil && a.Keyless.CACert != nil {
			clearNamespace(a.Keyless.CACert.SecretRef)
		}
	}
	return refused(p.Name, c.Validate(validationContext()))
}

func validateV1beta1(p *pcv1beta1.ClusterImagePolicy) error {
	c := p.DeepCopy()
	for _, a := range c.Spec.Authorities {
		if a.Key != nil {
			clearNamespace(a.Key.SecretRef)
		}
		if a.Keyless != nil && a.Keyless.CACert != nil {
			clearNamespace(a.Keyless.CACert.SecretRef)
		}
	}
	return refused(p.Name, c.Validate(validationContext()))
}

func clearNamespace(ref *corev1.SecretReference) {
	if ref != nil {
		ref.Namespace = ""
	}
}

// validationContext accepts policies without authorities, which
// policy-controller can be configured to allow: they are reported, not
// refused.
func validationContext() context.Context {
	return pcconfig.ToContext(context.Background(), &pcconfig.PolicyControllerConfig{NoMatchPolicy: pcconfig.DenyAll})
}

func refused(name string, fe *apis.FieldError) error {
	if fe = fe.Filter(apis.ErrorLevel); fe == nil {
		return nil
	}
	return fmt.Errorf("ClusterImagePolicy %s: policy-controller would refuse it: %v", name, fe)
}
