package policy

import (
	"context"
	"errors"
	"fmt"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
)

// DefaultTrustedRootKey is the data key read when a configMapRef names
// none: the file name cosign and sigstore-go give the trusted root.
const DefaultTrustedRootKey = "trusted_root.json"

var errNoConfigMaps = errors.New("a trusted root in a ConfigMap needs a cluster; gatehouse runs without one (--kubeconfig=none): put the JSON in keyless.trustedRoot.data")

// compileKeyless validates a keyless authority of the policy o and reads
// its trusted root, from a ConfigMap when it lives in one.
func compileKeyless(ctx context.Context, o Object, k *v1alpha1.KeylessAuthority, cluster SecretReader) (*verify.Keyless, error) {
	var errs []error
	if len(k.Identities) == 0 {
		errs = append(errs, errors.New("keyless.identities: list at least one identity (issuer and subject)"))
	}
	logs := 1
	if k.TransparencyLogThreshold != nil {
		logs = int(*k.TransparencyLogThreshold)
	}
	if logs < 0 {
		errs = append(errs, fmt.Errorf("keyless.transparencyLogThreshold %d: use 1 or more (0: signed timestamps only)", logs))
	}
	trustedRoot, err := trustedRootJSON(ctx, o, k.TrustedRoot, cluster)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ids := make([]verify.Identity, len(k.Identities))
	for i, id := range k.Identities {
		ids[i] = verify.Identity{Issuer: id.Issuer, IssuerRegExp: id.IssuerRegExp, Subject: id.Subject, SubjectRegExp: id.SubjectRegExp}
	}
	kl, err := verify.NewKeyless(trustedRoot, ids, logs)
	if err != nil {
		return nil, fmt.Errorf("keyless: %w", err)
	}
	return kl, nil
}

// trustedRootJSON returns the trusted root of a keyless authority of the
// policy o, reading a ConfigMap when it lives in one.
func trustedRootJSON(ctx context.Context, o Object, src v1alpha1.TrustedRootSource, cluster SecretReader) ([]byte, error) {
	configMaps, _ := cluster.(ConfigMapReader)
	set := 0
	for _, given := range []bool{src.Data != "", src.ConfigMapRef != nil, src.PEM != nil} {
		if given {
			set++
		}
	}
	switch {
	case set > 1:
		return nil, errors.New("keyless.trustedRoot: set one of data, configMapRef and pem, not several")
	case set == 0:
		return nil, errors.New("keyless.trustedRoot: set data (the trusted_root.json), configMapRef (a ConfigMap that holds it) or pem (CA certificates and log keys)")
	case src.Data != "":
		return []byte(src.Data), nil
	case src.PEM != nil:
		p := src.PEM
		js, err := verify.PEMRoot{CertificateAuthorities: p.CertificateAuthorities, TimestampAuthorities: p.TimestampAuthorities, TransparencyLogs: p.TransparencyLogs, CTLogs: p.CTLogs}.TrustedRootJSON()
		if err != nil {
			return nil, fmt.Errorf("keyless.trustedRoot.pem: %w", err)
		}
		return js, nil
	case configMaps == nil:
		return nil, errNoConfigMaps
	}
	ref := *src.ConfigMapRef
	if ref.Key == "" {
		ref.Key = DefaultTrustedRootKey
	}
	if err := refNamespace(o, "keyless.trustedRoot.configMapRef", "ConfigMaps", ref.Name, &ref.Namespace); err != nil {
		return nil, err
	}
	data, err := configMaps.ConfigMapData(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return nil, fmt.Errorf("keyless.trustedRoot.configMapRef: reading ConfigMap %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	js, ok := data[ref.Key]
	if !ok {
		return nil, fmt.Errorf("keyless.trustedRoot.configMapRef: ConfigMap %s/%s has no key %q (it has: %s)", ref.Namespace, ref.Name, ref.Key, keyList(data))
	}
	return []byte(js), nil
}
