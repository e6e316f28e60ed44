package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// SecretReader reads Secrets that hold public keys.
type SecretReader interface {
	SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error)
}

// ConfigMapReader reads ConfigMaps that hold trusted roots. A SecretReader
// given to CompileWith or Store.UseSecrets that is also a ConfigMapReader
// (KubeSecrets is) lets policies keep trusted roots in ConfigMaps.
type ConfigMapReader interface {
	ConfigMapData(ctx context.Context, namespace, name string) (map[string]string, error)
}

// KubeSecrets reads the Secrets and ConfigMaps policies name from the API
// server.
type KubeSecrets struct{ Client kubernetes.Interface }

// SecretData implements SecretReader.
func (k KubeSecrets) SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	s, err := k.Client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return s.Data, nil
}

// ConfigMapData implements ConfigMapReader.
func (k KubeSecrets) ConfigMapData(ctx context.Context, namespace, name string) (map[string]string, error) {
	c, err := k.Client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	data := maps.Clone(c.Data)
	if data == nil {
		data = map[string]string{}
	}
	for key, b := range c.BinaryData { // a file that is not UTF-8, as kubectl stores an archive
		data[key] = string(b)
	}
	return data, nil
}

// DefaultSecretKey is the data key read when a secretRef names none: the
// file name cosign generate-key-pair gives the public key.
const DefaultSecretKey = "cosign.pub"

var errNoSecrets = errors.New("a key in a Secret needs a cluster; gatehouse runs without one (--kubeconfig=none): put the PEM in key.data")

// keyPEM returns the PEM public key of a key authority of the policy o,
// reading a Secret when the key lives in one.
func keyPEM(ctx context.Context, o Object, k *v1alpha1.KeyAuthority, secrets SecretReader) (string, error) {
	switch {
	case k.Data != "" && k.SecretRef != nil:
		return "", errors.New("set key.data or key.secretRef, not both")
	case k.SecretRef == nil:
		return k.Data, nil
	case secrets == nil:
		return "", errNoSecrets
	}
	ref := *k.SecretRef
	if err := secretNamespace(o, &ref); err != nil {
		return "", err
	}
	data, err := secrets.SecretData(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return "", fmt.Errorf("key.secretRef: reading Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	pem, ok := data[ref.Key]
	if !ok {
		return "", fmt.Errorf("key.secretRef: Secret %s/%s has no key %q (it has: %s)", ref.Namespace, ref.Name, ref.Key, keyList(data))
	}
	return string(pem), nil
}

func keyList[V any](data map[string]V) string {
	return strings.Join(slices.Sorted(maps.Keys(data)), ", ")
}

// secretNamespace fills the defaults of ref and enforces where a policy may
// read Secrets: an ImagePolicy only in its own namespace.
func secretNamespace(o Object, ref *v1alpha1.SecretKeyRef) error {
	if ref.Key == "" {
		ref.Key = DefaultSecretKey
	}
	return refNamespace(o, "key.secretRef", "Secrets", ref.Name, &ref.Namespace)
}

// refNamespace checks a reference to a cluster object of the given kind
// (plural) at field: a name is required, a ClusterImagePolicy must name the
// namespace, an ImagePolicy may only name its own (the default).
func refNamespace(o Object, field, kind, name string, namespace *string) error {
	if name == "" {
		return fmt.Errorf("%s.name is required", field)
	}
	if o.Kind == v1alpha1.KindImagePolicy {
		if *namespace == "" {
			*namespace = o.Namespace
		}
		if *namespace != o.Namespace {
			return fmt.Errorf("%s.namespace %q: an ImagePolicy may only read %s in its own namespace (%s)", field, *namespace, kind, o.Namespace)
		}
		return nil
	}
	if *namespace == "" {
		return fmt.Errorf("%s.namespace is required in a ClusterImagePolicy", field)
	}
	return nil
}

// usesCluster reports whether o reads anything from the cluster: a key from
// a Secret, a trusted root or a Rego module from a ConfigMap, or a notation
// trust store or CRL from either.
func usesCluster(o Object) bool {
	return slices.ContainsFunc(o.Spec.Authorities, authorityUsesCluster) ||
		slices.ContainsFunc(o.Spec.Attestations, func(r v1alpha1.AttestationRequirement) bool {
			return slices.ContainsFunc(r.Authorities, authorityUsesCluster)
		}) ||
		(o.Spec.Rego != nil && o.Spec.Rego.ConfigMapRef != nil)
}

func authorityUsesCluster(a v1alpha1.Authority) bool {
	return (a.Key != nil && a.Key.SecretRef != nil) || (a.Keyless != nil && a.Keyless.TrustedRoot.ConfigMapRef != nil) ||
		(a.Notation != nil && usesClusterStores(a.Notation))
}
