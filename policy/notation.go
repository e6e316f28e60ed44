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
// its trust stores and CRLs, from Secrets or ConfigMaps when they live there.
func compileNotation(ctx context.Context, o Object, n *v1alpha1.NotationAuthority, cluster SecretReader) (*verify.Notation, error) {
	var errs []error
	if len(n.TrustStores) == 0 {
		errs = append(errs, errors.New("notation.trustStores: list at least one store of type ca or signingAuthority"))
	}
	var stores []verify.NotationStore
	for i, s := range n.TrustStores {
		field := fmt.Sprintf("notation.trustStores[%d]", i)
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name is required", field))
			continue
		}
		pem, err := readSource(ctx, o, field, source{"certificates", s.Certificates, s.SecretRef, s.ConfigMapRef, "PEM certificates"}, cluster)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		stores = append(stores, verify.NotationStore{Type: s.Type, Name: s.Name, PEM: string(pem)})
	}
	var crls []verify.NotationCRL
	for i, c := range n.CRLs {
		field := fmt.Sprintf("notation.crls[%d]", i)
		data, err := readSource(ctx, o, field, source{"crl", c.CRL, c.SecretRef, c.ConfigMapRef, "CRLs"}, cluster)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		crls = append(crls, verify.NotationCRL{Source: field, Data: data})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	nt, err := verify.NewNotation(verify.NotationConfig{Stores: stores, TrustedIdentities: n.TrustedIdentities, Level: n.Level, CRLs: crls})
	if err != nil {
		return nil, fmt.Errorf("notation: %w", err)
	}
	return nt, nil
}

// source is material a policy gives inline (in the field named inline),
// in a Secret, or in a ConfigMap: exactly one of them.
type source struct {
	inline       string
	data         string
	secretRef    *v1alpha1.SecretKeyRef
	configMapRef *v1alpha1.ConfigMapKeyRef
	what         string // "PEM certificates", for messages
}

// readSource returns the bytes of src, reading a Secret or a ConfigMap
// when they live in one.
func readSource(ctx context.Context, o Object, field string, src source, cluster SecretReader) ([]byte, error) {
	set := 0
	for _, b := range []bool{src.data != "", src.secretRef != nil, src.configMapRef != nil} {
		if b {
			set++
		}
	}
	switch {
	case set != 1:
		return nil, fmt.Errorf("%s: set exactly one of %s (inline), secretRef and configMapRef", field, src.inline)
	case src.data != "":
		return []byte(src.data), nil
	case src.secretRef != nil:
		return secretSource(ctx, o, field+".secretRef", *src.secretRef, src, cluster)
	}
	return configMapSource(ctx, o, field+".configMapRef", *src.configMapRef, src, cluster)
}

func secretSource(ctx context.Context, o Object, field string, ref v1alpha1.SecretKeyRef, src source, secrets SecretReader) ([]byte, error) {
	if secrets == nil {
		return nil, fmt.Errorf("%s: %s in a Secret need a cluster; gatehouse runs without one (--kubeconfig=none): put them in %s", field, src.what, src.inline)
	}
	if err := refNamespace(o, field, "Secrets", ref.Name, &ref.Namespace); err != nil {
		return nil, err
	}
	if ref.Key == "" {
		return nil, fmt.Errorf("%s.key is required: the data key holding the %s", field, src.what)
	}
	data, err := secrets.SecretData(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: reading Secret %s/%s: %w", field, ref.Namespace, ref.Name, err)
	}
	b, ok := data[ref.Key]
	if !ok {
		return nil, fmt.Errorf("%s: Secret %s/%s has no key %q (it has: %s)", field, ref.Namespace, ref.Name, ref.Key, keyList(data))
	}
	return b, nil
}

func configMapSource(ctx context.Context, o Object, field string, ref v1alpha1.ConfigMapKeyRef, src source, cluster SecretReader) ([]byte, error) {
	configMaps, _ := cluster.(ConfigMapReader)
	if configMaps == nil {
		return nil, fmt.Errorf("%s: %s in a ConfigMap need a cluster; gatehouse runs without one (--kubeconfig=none): put them in %s", field, src.what, src.inline)
	}
	if err := refNamespace(o, field, "ConfigMaps", ref.Name, &ref.Namespace); err != nil {
		return nil, err
	}
	if ref.Key == "" {
		return nil, fmt.Errorf("%s.key is required: the data key holding the %s", field, src.what)
	}
	data, err := configMaps.ConfigMapData(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: reading ConfigMap %s/%s: %w", field, ref.Namespace, ref.Name, err)
	}
	b, ok := data[ref.Key]
	if !ok {
		return nil, fmt.Errorf("%s: ConfigMap %s/%s has no key %q (it has: %s)", field, ref.Namespace, ref.Name, ref.Key, keyList(data))
	}
	return []byte(b), nil
}

// usesClusterStores reports whether a notation authority reads a trust
// store or a CRL from the cluster.
func usesClusterStores(n *v1alpha1.NotationAuthority) bool {
	for _, s := range n.TrustStores {
		if s.SecretRef != nil || s.ConfigMapRef != nil {
			return true
		}
	}
	for _, c := range n.CRLs {
		if c.SecretRef != nil || c.ConfigMapRef != nil {
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
