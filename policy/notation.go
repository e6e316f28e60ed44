package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
)

// compileNotation validates a notation authority of the policy o and reads
// its trust stores, from Secrets or ConfigMaps when they live there.
func compileNotation(ctx context.Context, o Object, n *v1alpha1.NotationAuthority, cluster SecretReader) (*verify.Notation, error) {
	var errs []error
	if len(n.TrustStores) == 0 {
		errs = append(errs, errors.New("notation.trustStores: list at least one store of type ca or signingAuthority"))
	}
	var stores []verify.NotationStore
	for i, s := range n.TrustStores {
		field := fmt.Sprintf("notation.trustStores[%d]", i)
		pem, err := storePEM(ctx, o, field, s, cluster)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		stores = append(stores, verify.NotationStore{Type: s.Type, Name: s.Name, PEM: pem})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	nt, err := verify.NewNotation(stores, n.TrustedIdentities, n.Level)
	if err != nil {
		return nil, fmt.Errorf("notation: %w", err)
	}
	return nt, nil
}

// storePEM returns the PEM certificates of a trust store, reading a Secret
// or a ConfigMap when they live in one.
func storePEM(ctx context.Context, o Object, field string, s v1alpha1.NotationTrustStore, cluster SecretReader) (string, error) {
	set := 0
	for _, b := range []bool{s.Certificates != "", s.SecretRef != nil, s.ConfigMapRef != nil} {
		if b {
			set++
		}
	}
	switch {
	case s.Name == "":
		return "", fmt.Errorf("%s.name is required", field)
	case set != 1:
		return "", fmt.Errorf("%s: set exactly one of certificates (inline PEM), secretRef and configMapRef", field)
	case s.Certificates != "":
		return s.Certificates, nil
	case s.SecretRef != nil:
		return storeSecret(ctx, o, field+".secretRef", *s.SecretRef, cluster)
	}
	return storeConfigMap(ctx, o, field+".configMapRef", *s.ConfigMapRef, cluster)
}

func storeSecret(ctx context.Context, o Object, field string, ref v1alpha1.SecretKeyRef, secrets SecretReader) (string, error) {
	if secrets == nil {
		return "", fmt.Errorf("%s: certificates in a Secret need a cluster; gatehouse runs without one (--kubeconfig=none): put the PEM in certificates", field)
	}
	if err := refNamespace(o, field, "Secrets", ref.Name, &ref.Namespace); err != nil {
		return "", err
	}
	if ref.Key == "" {
		return "", fmt.Errorf("%s.key is required: the data key holding the PEM certificates", field)
	}
	data, err := secrets.SecretData(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return "", fmt.Errorf("%s: reading Secret %s/%s: %w", field, ref.Namespace, ref.Name, err)
	}
	pem, ok := data[ref.Key]
	if !ok {
		return "", fmt.Errorf("%s: Secret %s/%s has no key %q (it has: %s)", field, ref.Namespace, ref.Name, ref.Key, keyList(data))
	}
	return string(pem), nil
}

func storeConfigMap(ctx context.Context, o Object, field string, ref v1alpha1.ConfigMapKeyRef, cluster SecretReader) (string, error) {
	configMaps, _ := cluster.(ConfigMapReader)
	if configMaps == nil {
		return "", fmt.Errorf("%s: certificates in a ConfigMap need a cluster; gatehouse runs without one (--kubeconfig=none): put the PEM in certificates", field)
	}
	if err := refNamespace(o, field, "ConfigMaps", ref.Name, &ref.Namespace); err != nil {
		return "", err
	}
	if ref.Key == "" {
		return "", fmt.Errorf("%s.key is required: the data key holding the PEM certificates", field)
	}
	data, err := configMaps.ConfigMapData(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return "", fmt.Errorf("%s: reading ConfigMap %s/%s: %w", field, ref.Namespace, ref.Name, err)
	}
	pem, ok := data[ref.Key]
	if !ok {
		return "", fmt.Errorf("%s: ConfigMap %s/%s has no key %q (it has: %s)", field, ref.Namespace, ref.Name, ref.Key, keyList(data))
	}
	return pem, nil
}

// usesClusterStores reports whether a notation authority reads a trust
// store from the cluster.
func usesClusterStores(n *v1alpha1.NotationAuthority) bool {
	for _, s := range n.TrustStores {
		if s.SecretRef != nil || s.ConfigMapRef != nil {
			return true
		}
	}
	return false
}

// describeNotation names what a notation authority trusts, for messages.
func describeNotation(n *verify.Notation) string {
	ids := n.TrustedIdentities
	if len(ids) == 1 {
		return "notation, identity " + ids[0]
	}
	return "notation, identities " + strings.Join(ids, "; ")
}
