package migrate

import (
	"context"
	"fmt"
	"strings"

	pcv1alpha1 "github.com/sigstore/policy-controller/pkg/apis/policy/v1alpha1"
	pcv1beta1 "github.com/sigstore/policy-controller/pkg/apis/policy/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// AnnotationMigratedFrom is set on every converted policy to the source it
// came from, e.g. "policy.sigstore.dev/v1beta1 ClusterImagePolicy NAME".
const AnnotationMigratedFrom = "gatehouse.dev/migrated-from"

// DefaultSecretNamespace is the namespace policy-controller is installed in
// by default, where it reads the Secrets of key.secretRef.
const DefaultSecretNamespace = "cosign-system"

// maxAuthorities is the most authorities a gatehouse policy may have.
const maxAuthorities = 16

// Options say where gatehouse finds what policy-controller resolved itself.
type Options struct {
	// SecretNamespace is where policy-controller runs and reads the Secrets
	// that key.secretRef names. "" means DefaultSecretNamespace.
	SecretNamespace string
	// PublicTrustedRoot names the ConfigMap holding the trusted_root.json of
	// Sigstore's public instance, which policy-controller fetches by TUF for
	// keyless authorities without trustRootRef. Nil: such authorities are
	// dropped.
	PublicTrustedRoot *v1alpha1.ConfigMapKeyRef
	// TrustRoots maps the name of a policy-controller TrustRoot to the
	// ConfigMap holding its trusted_root.json. Keyless authorities whose
	// trustRootRef is not listed are dropped.
	TrustRoots map[string]v1alpha1.ConfigMapKeyRef
}

// Convert converts a v1alpha1 ClusterImagePolicy, the version
// policy-controller stores and evaluates.
func Convert(in *pcv1alpha1.ClusterImagePolicy, opts Options) Result {
	return convert(pcv1alpha1.SchemeGroupVersion.String(), in, opts)
}

// ConvertV1beta1 converts a v1beta1 ClusterImagePolicy the way
// policy-controller evaluates it: stored as v1alpha1 through its own
// conversion, which loses a ctlog without url and an rfc3161timestamp
// without trustRootRef.
func ConvertV1beta1(in *pcv1beta1.ClusterImagePolicy, opts Options) Result {
	source := pcv1beta1.SchemeGroupVersion.String()
	var stored pcv1alpha1.ClusterImagePolicy
	if err := stored.ConvertFrom(context.Background(), in); err != nil {
		r := Result{Source: source + " ClusterImagePolicy " + in.Name}
		r.note(Dropped, "spec", "policy-controller's conversion to v1alpha1 failed: %v", err)
		return r
	}
	r := convert(source, &stored, opts)
	r.Notes = append(lostInStorage(in), r.Notes...)
	return r
}

// lostInStorage notes what policy-controller's v1beta1 to v1alpha1
// conversion drops: it never took effect there.
func lostInStorage(in *pcv1beta1.ClusterImagePolicy) []Note {
	var notes []Note
	for i, a := range in.Spec.Authorities {
		at := fmt.Sprintf("spec.authorities[%d]", i)
		if a.CTLog != nil && a.CTLog.URL == nil {
			notes = append(notes, Note{Ignored, at + ".ctlog", "policy-controller stores policies as v1alpha1 and its conversion drops a ctlog without url, so it had no effect"})
		}
		if a.RFC3161Timestamp != nil && a.RFC3161Timestamp.TrustRootRef == "" {
			notes = append(notes, Note{Ignored, at + ".rfc3161timestamp", "without trustRootRef it is dropped when policy-controller stores the policy as v1alpha1: no effect"})
		}
	}
	return notes
}

// converter converts one policy, collecting notes.
type converter struct {
	opts Options
	res  *Result
}

func convert(apiVersion string, in *pcv1alpha1.ClusterImagePolicy, opts Options) Result {
	if opts.SecretNamespace == "" {
		opts.SecretNamespace = DefaultSecretNamespace
	}
	res := Result{Source: apiVersion + " ClusterImagePolicy " + in.Name}
	c := converter{opts: opts, res: &res}
	spec := v1alpha1.ImagePolicySpec{
		Images:      c.images(in.Spec.Images),
		Authorities: c.authorities(in.Spec.Authorities),
		Require:     v1alpha1.RequireAny,
		Mode:        c.mode(in.Spec.Mode),
	}
	c.specExtras(in.Spec)
	if !c.emittable(spec) {
		return res
	}
	res.Policy = &v1alpha1.ClusterImagePolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.Group + "/" + v1alpha1.Version, Kind: v1alpha1.KindClusterImagePolicy},
		ObjectMeta: metav1.ObjectMeta{
			Name:        in.Name,
			Annotations: map[string]string{AnnotationMigratedFrom: res.Source},
		},
		Spec: spec,
	}
	return res
}

// emittable reports whether spec makes a gatehouse policy, noting why not.
func (c *converter) emittable(spec v1alpha1.ImagePolicySpec) bool {
	const consequence = "the images it matched are judged by the other policies that match them, or by gatehouse's --unmatched-images when none does"
	switch {
	case len(spec.Images) == 0:
		c.res.note(Dropped, "spec", "policy not converted: no glob could be carried over; %s", consequence)
	case len(spec.Authorities) == 0:
		c.res.note(Dropped, "spec", "policy not converted: no authority could be carried over; %s", consequence)
	case len(spec.Authorities) > maxAuthorities:
		c.res.note(Dropped, "spec.authorities", "policy not converted: %d authorities, gatehouse allows at most %d per policy; %s", len(spec.Authorities), maxAuthorities, consequence)
	default:
		return true
	}
	return false
}

func (c *converter) mode(mode string) v1alpha1.Mode {
	switch mode {
	case "", "enforce":
		c.res.note(Mapped, "spec.mode", "enforce: a failure denies")
		return v1alpha1.ModeEnforce
	case "warn":
		c.res.note(Mapped, "spec.mode", "warn: a failure is admitted with a warning")
		return v1alpha1.ModeWarn
	}
	c.res.note(Changed, "spec.mode", "%q is not a policy-controller mode; converted as enforce", mode)
	return v1alpha1.ModeEnforce
}

func (c *converter) images(in []pcv1alpha1.ImagePattern) []v1alpha1.ImageGlob {
	var out []v1alpha1.ImageGlob
	seen := map[string]bool{}
	for i, p := range in {
		g := convertGlob(p.Glob)
		field := fmt.Sprintf("spec.images[%d].glob", i)
		msg := fmt.Sprintf("%q -> %q", p.Glob, strings.Join(g.globs, `", "`))
		if g.kind == Dropped {
			msg = fmt.Sprintf("%q", p.Glob)
		}
		for _, why := range g.why {
			msg += "; " + why
		}
		c.res.note(g.kind, field, "%s", msg)
		for _, s := range g.globs {
			if !seen[s] {
				seen[s] = true
				out = append(out, v1alpha1.ImageGlob{Glob: s})
			}
		}
	}
	return out
}

// specExtras notes the policy-level fields gatehouse has no counterpart for.
func (c *converter) specExtras(spec pcv1alpha1.ClusterImagePolicySpec) {
	if spec.Policy != nil {
		c.res.note(Dropped, "spec.policy", "the %s policy ran once an authority passed and could deny more, e.g. require several authorities; gatehouse has no policy language yet (Rego is planned), so the converted policy admits what any one authority admits (looser)", spec.Policy.Type)
	}
	if len(spec.Match) > 0 {
		c.res.note(Dropped, "spec.match", "policy-controller applied the policy only to the resources (and labels) listed; gatehouse applies it to the images of every object it checks (stricter)")
	}
}
