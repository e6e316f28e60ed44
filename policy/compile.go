package policy

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/policy/rego"
	"gatehouse.dev/gatehouse/verify"
)

// Object is one policy resource as read from a file or the cluster.
type Object struct {
	// Source is where it was read: SourceFiles or SourceCluster.
	Source    string
	Kind      string // v1alpha1.KindClusterImagePolicy or KindImagePolicy
	Namespace string // ImagePolicy only
	Name      string
	// Generation is metadata.generation, for the status of cluster objects.
	Generation int64
	Spec       v1alpha1.ImagePolicySpec
}

// ID names the object in messages, metrics and audit records:
// "ClusterImagePolicy/NAME" or "ImagePolicy/NAMESPACE/NAME".
func (o Object) ID() string {
	if o.Kind == v1alpha1.KindImagePolicy {
		return o.Kind + "/" + o.Namespace + "/" + o.Name
	}
	return o.Kind + "/" + o.Name
}

// Policy is a compiled, validated policy.
type Policy struct {
	ID        string
	Namespace string // "" for cluster policies
	Mode      v1alpha1.Mode
	Require   v1alpha1.Requirement
	// Need is how many distinct authorities must have signed.
	Need        int
	MultiArch   v1alpha1.MultiArch
	Pin         bool
	Authorities []verify.Authority
	// Attestations are the attestations the policy requires.
	Attestations []verify.AttestationCheck
	// Rego is the policy's compiled module, nil when it has none.
	Rego *rego.Program
	// PodScope: the module judges the whole request once (scope pod).
	PodScope bool
	names    map[string]string // authority ID -> name
	globs    []*regexp.Regexp
}

// Compile validates o and compiles it, for policies whose keys are all
// inline. The error lists every problem found, each saying what to fix.
func Compile(o Object) (*Policy, error) {
	return CompileWith(context.Background(), o, nil)
}

// CompileWith is Compile reading keys kept in Secrets with secrets (nil: a
// secretRef is an error) and, when secrets is also a ConfigMapReader,
// trusted roots kept in ConfigMaps (otherwise a configMapRef is an error).
func CompileWith(ctx context.Context, o Object, secrets SecretReader) (*Policy, error) {
	return compile(ctx, o, secrets, rego.Options{})
}

// compile is CompileWith with the options of the Rego evaluations.
func compile(ctx context.Context, o Object, secrets SecretReader, regoOpts rego.Options) (*Policy, error) {
	var errs []error
	if err := checkObject(o); err != nil {
		errs = append(errs, err)
	}
	p := &Policy{ID: o.ID(), Namespace: o.Namespace, Mode: o.Spec.Mode, Require: o.Spec.Require, MultiArch: o.Spec.MultiArch, Pin: true, names: map[string]string{}}
	if o.Spec.PinDigest != nil {
		p.Pin = *o.Spec.PinDigest
	}
	errs = append(errs, p.setDefaults()...)
	errs = append(errs, p.compileGlobs(o.Spec.Images)...)
	errs = append(errs, p.compileAuthorities(ctx, o, secrets)...)
	errs = append(errs, p.setNeed(o.Spec)...)
	errs = append(errs, p.compileAttestations(ctx, o, secrets)...)
	if err := p.compileRego(ctx, o, secrets, regoOpts); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", o.ID(), err)
	}
	return p, nil
}

func checkObject(o Object) error {
	switch {
	case o.Kind != v1alpha1.KindClusterImagePolicy && o.Kind != v1alpha1.KindImagePolicy:
		return fmt.Errorf("kind %q: use %s or %s", o.Kind, v1alpha1.KindClusterImagePolicy, v1alpha1.KindImagePolicy)
	case o.Name == "":
		return errors.New("metadata.name is required")
	case o.Kind == v1alpha1.KindImagePolicy && o.Namespace == "":
		return errors.New("metadata.namespace is required for an ImagePolicy")
	case o.Kind == v1alpha1.KindClusterImagePolicy && o.Namespace != "":
		return errors.New("a ClusterImagePolicy is cluster-scoped: remove metadata.namespace")
	}
	return nil
}

func (p *Policy) setDefaults() []error {
	var errs []error
	switch p.Mode {
	case "":
		p.Mode = v1alpha1.ModeEnforce
	case v1alpha1.ModeEnforce, v1alpha1.ModeWarn, v1alpha1.ModeAudit:
	default:
		errs = append(errs, fmt.Errorf("spec.mode %q: use enforce, warn or audit", p.Mode))
	}
	switch p.Require {
	case "":
		p.Require = v1alpha1.RequireAll
	case v1alpha1.RequireAll, v1alpha1.RequireAny:
	default:
		errs = append(errs, fmt.Errorf("spec.require %q: use all or any", p.Require))
	}
	switch p.MultiArch {
	case "":
		p.MultiArch = v1alpha1.MultiArchIndex
	case v1alpha1.MultiArchIndex, v1alpha1.MultiArchPlatforms, v1alpha1.MultiArchBoth:
	default:
		errs = append(errs, fmt.Errorf("spec.multiArch %q: use index, platforms or both", p.MultiArch))
	}
	return errs
}

// setNeed turns require / threshold into the number of distinct
// authorities that must have signed.
func (p *Policy) setNeed(spec v1alpha1.ImagePolicySpec) []error {
	n := len(spec.Authorities)
	switch {
	case spec.Threshold == nil && p.Require == v1alpha1.RequireAny:
		p.Need = 1
	case spec.Threshold == nil:
		p.Need = n
	case spec.Require != "":
		return []error{errors.New("spec.threshold and spec.require cannot both be set: keep threshold for k of n, or require for all/any")}
	case *spec.Threshold < 1 || int(*spec.Threshold) > n:
		return []error{fmt.Errorf("spec.threshold %d: must be between 1 and the number of authorities (%d)", *spec.Threshold, n)}
	default:
		p.Need = int(*spec.Threshold)
	}
	return nil
}

func (p *Policy) compileGlobs(globs []v1alpha1.ImageGlob) []error {
	if len(globs) == 0 {
		return []error{errors.New("spec.images: list at least one glob (\"**\" matches every image)")}
	}
	var errs []error
	for i, g := range globs {
		re, err := compileGlob(g.Glob)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.images[%d]: %w", i, err))
			continue
		}
		p.globs = append(p.globs, re)
	}
	return errs
}

func (p *Policy) compileAuthorities(ctx context.Context, o Object, secrets SecretReader) []error {
	as := o.Spec.Authorities
	if len(as) == 0 && o.Spec.Rego == nil {
		return []error{errors.New("spec.authorities: list at least one authority (or give spec.rego, a module that judges the image alone)")}
	}
	var errs []error
	seen := map[string]bool{}      // names so far, compiled or refused
	signers := map[string]string{} // signer ID -> authority name
	for i, a := range as {
		compiled, err := p.compileAuthority(ctx, o, a, seen[a.Name], secrets)
		seen[a.Name] = true
		if err == nil && signers[compiled.SignerID()] != "" {
			// One key behind two names would let one signature count twice
			// towards a threshold.
			err = fmt.Errorf("same %s as authority %q: each authority must be a distinct signer", signerKind(compiled), signers[compiled.SignerID()])
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.authorities[%d] (%s): %w", i, a.Name, err))
			continue
		}
		signers[compiled.SignerID()] = a.Name
		p.Authorities = append(p.Authorities, compiled)
		p.names[compiled.ID] = a.Name
	}
	return errs
}

var authorityName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (p *Policy) compileAuthority(ctx context.Context, o Object, a v1alpha1.Authority, duplicate bool, secrets SecretReader) (verify.Authority, error) {
	id := p.ID + "/" + a.Name
	switch {
	case !authorityName.MatchString(a.Name) || len(a.Name) > 63:
		return verify.Authority{}, errors.New("name must be a DNS label (lowercase letters, digits, '-')")
	case duplicate:
		return verify.Authority{}, errors.New("name is used twice in this policy")
	case countSet(a.Key != nil, a.Keyless != nil, a.Notation != nil) > 1:
		return verify.Authority{}, errors.New("set one of key, keyless and notation: make one authority for each signer to trust")
	case a.Notation != nil:
		nt, err := compileNotation(ctx, o, a.Notation, secrets)
		return verify.Authority{ID: id, Notation: nt}, err
	case a.Keyless != nil:
		kl, err := compileKeyless(ctx, o, a.Keyless, secrets)
		return verify.Authority{ID: id, Keyless: kl}, err
	case a.Key == nil:
		return verify.Authority{}, errors.New("name a key, keyless identities or a notation trust: key.data holds the PEM public key, or key.secretRef names a Secret that does; keyless.identities and keyless.trustedRoot trust certificates; notation.trustStores and notation.trustedIdentities trust Notary Project signatures")
	}
	pem, err := keyPEM(ctx, o, a.Key, secrets)
	if err != nil {
		return verify.Authority{}, err
	}
	key, err := verify.ParseKey(pem, a.Key.HashAlgorithm)
	if err != nil {
		return verify.Authority{}, fmt.Errorf("key: %w", err)
	}
	return verify.Authority{ID: id, Key: key}, nil
}

func countSet(set ...bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}

func signerKind(a verify.Authority) string {
	switch {
	case a.Keyless != nil:
		return "keyless identities and trusted root"
	case a.Notation != nil:
		return "notation trust stores, identities and level"
	}
	return "key"
}

// Matches reports whether the policy covers the canonical repository name.
func (p *Policy) Matches(repository string) bool {
	for _, g := range p.globs {
		if g.MatchString(repository) {
			return true
		}
	}
	return false
}

// NeedsPlatforms reports whether judging an image needs its runnable
// platform images verified.
func (p *Policy) NeedsPlatforms() bool { return p.MultiArch != v1alpha1.MultiArchIndex }

// AuthorityName returns the name an authority has in its policy.
func (p *Policy) AuthorityName(id string) string { return p.names[id] }
