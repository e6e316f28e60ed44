package policy

import (
	"context"
	"errors"
	"fmt"
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

// KubeSecrets reads Secrets from the API server.
type KubeSecrets struct{ Client kubernetes.Interface }

// SecretData implements SecretReader.
func (k KubeSecrets) SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	s, err := k.Client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return s.Data, nil
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
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", fmt.Errorf("key.secretRef: Secret %s/%s has no key %q (it has: %s)", ref.Namespace, ref.Name, ref.Key, strings.Join(keys, ", "))
	}
	return string(pem), nil
}

// secretNamespace fills the defaults of ref and enforces where a policy may
// read Secrets: an ImagePolicy only in its own namespace.
func secretNamespace(o Object, ref *v1alpha1.SecretKeyRef) error {
	if ref.Key == "" {
		ref.Key = DefaultSecretKey
	}
	if ref.Name == "" {
		return errors.New("key.secretRef.name is required")
	}
	if o.Kind == v1alpha1.KindImagePolicy {
		if ref.Namespace == "" {
			ref.Namespace = o.Namespace
		}
		if ref.Namespace != o.Namespace {
			return fmt.Errorf("key.secretRef.namespace %q: an ImagePolicy may only read Secrets in its own namespace (%s)", ref.Namespace, o.Namespace)
		}
		return nil
	}
	if ref.Namespace == "" {
		return errors.New("key.secretRef.namespace is required in a ClusterImagePolicy")
	}
	return nil
}

// usesSecrets reports whether o reads any key from a Secret.
func usesSecrets(o Object) bool {
	return slices.ContainsFunc(o.Spec.Authorities, func(a v1alpha1.Authority) bool { return a.Key != nil && a.Key.SecretRef != nil })
}
