package migrate

import (
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// ConvertDocument converts one document read by ReadDocuments.
func ConvertDocument(d Document, opts Options) Result {
	switch {
	case d.V1alpha1 != nil:
		return Convert(d.V1alpha1, opts)
	case d.V1beta1 != nil:
		return ConvertV1beta1(d.V1beta1, opts)
	}
	r := Result{Source: pcGroup + " TrustRoot " + d.TrustRoot}
	if ref, ok := opts.TrustRoots[d.TrustRoot]; ok {
		r.note(Mapped, "TrustRoot", "not a policy: keyless authorities naming it read its trusted root from ConfigMap %s", describe(ref))
	} else {
		r.note(Dropped, "TrustRoot", "not a policy, and no ConfigMap named for it: export its trusted_root.json into one and give --trusted-root-configmap %s=namespace/name/key", d.TrustRoot)
	}
	return r
}

// wire is the form a converted policy is written in: only the metadata
// gatehouse reads.
type wire struct {
	APIVersion string                   `json:"apiVersion"`
	Kind       string                   `json:"kind"`
	Metadata   wireMeta                 `json:"metadata"`
	Spec       v1alpha1.ImagePolicySpec `json:"spec"`
}

type wireMeta struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// WriteYAML writes the converted policies as one multi-document YAML
// stream. Each policy that lost or changed something is headed by
// comments saying what, so that a review of the YAML alone sees it.
func WriteYAML(w io.Writer, results []Result) error {
	var b strings.Builder
	for _, r := range results {
		p := r.Policy
		if p == nil {
			continue
		}
		y, err := yaml.Marshal(wire{p.APIVersion, p.Kind, wireMeta{p.Name, p.Annotations}, p.Spec})
		if err != nil {
			return fmt.Errorf("%s: %w", r.Source, err)
		}
		if b.Len() > 0 {
			b.WriteString("---\n")
		}
		for _, n := range r.Notes {
			if n.Kind >= Changed {
				fmt.Fprintf(&b, "# %s %s: %s\n", n.Kind, n.Field, n.Message)
			}
		}
		b.Write(y)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
