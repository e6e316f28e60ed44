package migrate

import (
	"strings"
	"testing"
)

const keyPolicy = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: NAME
spec:
  images: [{glob: registry.example.com/**}]
  authorities: [{name: k, key: {secretRef: {namespace: cosign-system, name: release}}}]
`

// kubectlList is what kubectl get clusterimagepolicies.policy.sigstore.dev
// -o yaml writes: a List, with server-side metadata and status.
const kubectlList = `apiVersion: v1
items:
- apiVersion: policy.sigstore.dev/v1beta1
  kind: ClusterImagePolicy
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"policy.sigstore.dev/v1beta1"}
    creationTimestamp: "2025-01-01T00:00:00Z"
    generation: 1
    managedFields:
    - apiVersion: policy.sigstore.dev/v1alpha1
      fieldsType: FieldsV1
      fieldsV1:
        f:spec:
          .: {}
      manager: kubectl-client-side-apply
      operation: Update
      time: "2025-01-01T00:00:00Z"
    name: image-policy
    resourceVersion: "1234"
    uid: 6c4a7a5e-4ab0-4c2b-9c1c-4d2a0e8f1a11
  spec:
    authorities:
    - name: authority-0
      keyless:
        identities:
        - issuer: https://issuer.example.com
          subject: someone@example.com
        url: https://fulcio.sigstore.dev
    images:
    - glob: registry.example.com/**
    mode: enforce
  status:
    conditions:
    - lastTransitionTime: "2025-01-01T00:00:00Z"
      status: "True"
      type: Ready
    observedGeneration: 1
kind: List
metadata:
  resourceVersion: ""
`

func TestReadDocuments(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []string // names of the documents read: policies, then "TrustRoot/NAME"
	}{
		{name: "multi-document yaml with comments", in: "# policies\n---\n" + strings.Replace(keyPolicy, "NAME", "a", 1) + "---\n# nothing\n---\n" + strings.Replace(keyPolicy, "NAME", "b", 1), want: []string{"a", "b"}},
		{name: "json", in: `{"apiVersion": "policy.sigstore.dev/v1alpha1", "kind": "ClusterImagePolicy", "metadata": {"name": "j"}, "spec": {"images": [{"glob": "**"}], "authorities": [{"static": {"action": "pass"}}]}}`, want: []string{"j"}},
		{name: "kubectl list", in: "apiVersion: v1\nkind: List\nitems:\n" + indentItem(strings.Replace(keyPolicy, "NAME", "l", 1)), want: []string{"l"}},
		{name: "kubectl get output", in: kubectlList, want: []string{"image-policy"}},
		{name: "policy list items inherit the version", in: "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicyList\nmetadata: {}\nitems:\n- metadata: {name: i}\n  spec: {images: [{glob: '**'}], authorities: [{static: {action: fail}}]}\n", want: []string{"i"}},
		{name: "trust root", in: "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: private}\nspec: {}\n", want: []string{"TrustRoot/private"}},
		{name: "no authorities", in: "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: empty}\nspec: {images: [{glob: '**'}]}\n", want: []string{"empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := ReadDocuments([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				switch {
				case d.V1alpha1 != nil:
					got = append(got, d.V1alpha1.Name)
				case d.V1beta1 != nil:
					got = append(got, d.V1beta1.Name)
				default:
					got = append(got, "TrustRoot/"+d.TrustRoot)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("read %q, want %q", got, tc.want)
			}
		})
	}
}

func indentItem(doc string) string {
	lines := strings.Split(strings.TrimSuffix(doc, "\n"), "\n")
	for i, l := range lines {
		if i == 0 {
			lines[i] = "- " + l
		} else {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// Input policy-controller would refuse, or that is not a policy at all, is
// an error: a misspelt field must not silently drop a requirement.
func TestReadDocumentsRefuses(t *testing.T) {
	base := strings.Replace(keyPolicy, "NAME", "p", 1)
	for _, tc := range []struct {
		name, in, want string
	}{
		{name: "unknown field", in: strings.Replace(base, "secretRef:", "secretRefs:", 1), want: `unknown field "spec.authorities[0].key.secretRefs"`},
		{name: "wrongly cased field", in: strings.Replace(base, "images:", "Images:", 1), want: "Images"},
		{name: "duplicate field", in: strings.Replace(base, "name: p", "name: p\n  name: q", 1), want: "already set"},
		{name: "gatehouse policy", in: strings.Replace(base, "policy.sigstore.dev/v1beta1", "gatehouse.dev/v1alpha1", 1), want: "not a policy-controller ClusterImagePolicy"},
		{name: "unknown version", in: strings.Replace(base, "v1beta1", "v1", 1), want: "not a policy-controller ClusterImagePolicy"},
		{name: "key and keyless", in: strings.Replace(base, "key: {", "keyless: {url: 'https://fulcio.example.com', identities: [{issuer: i, subject: s}]}, key: {", 1), want: "policy-controller would refuse it"},
		{name: "invalid glob", in: strings.Replace(base, "registry.example.com/**", "'[a-z]*'", 1), want: "policy-controller would refuse it"},
		{name: "invalid regexp", in: strings.Replace(base, "key: {secretRef: {namespace: cosign-system, name: release}}", "keyless: {url: 'https://fulcio.example.com', identities: [{issuer: i, subjectRegExp: '(('}]}", 1), want: "regex is invalid"},
		{name: "list item", in: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n", want: "items[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadDocuments([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
