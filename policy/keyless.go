package policy

import (
	"context"
	"encoding/base64"
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
	for _, given := range []bool{src.Data != "", src.ConfigMapRef != nil, src.PEM != nil, src.TUF != nil} {
		if given {
			set++
		}
	}
	switch {
	case set > 1:
		return nil, errors.New("keyless.trustedRoot: set one of data, configMapRef, pem and tuf, not several")
	case set == 0:
		return nil, errors.New("keyless.trustedRoot: set data (the trusted_root.json), configMapRef (a ConfigMap that holds it), pem (CA certificates and log keys) or tuf (a TUF repository)")
	case src.Data != "":
		return []byte(src.Data), nil
	case src.PEM != nil:
		p := src.PEM
		js, err := verify.PEMRoot{CertificateAuthorities: p.CertificateAuthorities, TimestampAuthorities: p.TimestampAuthorities, TransparencyLogs: p.TransparencyLogs, CTLogs: p.CTLogs}.TrustedRootJSON()
		if err != nil {
			return nil, fmt.Errorf("keyless.trustedRoot.pem: %w", err)
		}
		return js, nil
	case src.TUF != nil:
		return tufRoot(ctx, o, src.TUF, configMaps)
	}
	return configMapKey(ctx, o, "keyless.trustedRoot.configMapRef", *src.ConfigMapRef, DefaultTrustedRootKey, configMaps)
}

// DefaultTUFMirrorKey is the data key read when a mirrorConfigMapRef names
// none.
const DefaultTUFMirrorKey = "mirror.tar.gz"

// tufRoot verifies a TUF repository offline and returns its trusted root.
func tufRoot(ctx context.Context, o Object, t *v1alpha1.TrustedRootTUF, configMaps ConfigMapReader) ([]byte, error) {
	var mirror []byte
	switch {
	case t.Mirror != "" && t.MirrorConfigMapRef != nil:
		return nil, errors.New("keyless.trustedRoot.tuf: set mirror or mirrorConfigMapRef, not both")
	case t.Mirror != "":
		var err error
		if mirror, err = base64.StdEncoding.DecodeString(t.Mirror); err != nil {
			return nil, fmt.Errorf("keyless.trustedRoot.tuf.mirror: not base64: %v", err)
		}
	case t.MirrorConfigMapRef != nil:
		var err error
		if mirror, err = configMapKey(ctx, o, "keyless.trustedRoot.tuf.mirrorConfigMapRef", *t.MirrorConfigMapRef, DefaultTUFMirrorKey, configMaps); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("keyless.trustedRoot.tuf: set mirror (a base64 tar of the repository) or mirrorConfigMapRef")
	}
	js, err := verify.TUFRepository{Root: []byte(t.Root), Mirror: mirror, Target: t.Target}.TrustedRootJSON()
	if err != nil {
		return nil, fmt.Errorf("keyless.trustedRoot.tuf: %w", err)
	}
	return js, nil
}

// configMapKey reads one key of the ConfigMap ref names (field is where
// the policy names it, for errors).
func configMapKey(ctx context.Context, o Object, field string, ref v1alpha1.ConfigMapKeyRef, defaultKey string, configMaps ConfigMapReader) ([]byte, error) {
	if configMaps == nil {
		return nil, errNoConfigMaps
	}
	if ref.Key == "" {
		ref.Key = defaultKey
	}
	if err := refNamespace(o, field, "ConfigMaps", ref.Name, &ref.Namespace); err != nil {
		return nil, err
	}
	data, err := configMaps.ConfigMapData(ctx, ref.Namespace, ref.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: reading ConfigMap %s/%s: %w", field, ref.Namespace, ref.Name, err)
	}
	v, ok := data[ref.Key]
	if !ok {
		return nil, fmt.Errorf("%s: ConfigMap %s/%s has no key %q (it has: %s)", field, ref.Namespace, ref.Name, ref.Key, keyList(data))
	}
	return []byte(v), nil
}
