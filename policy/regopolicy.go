package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/policy/rego"
	"gatehouse.dev/gatehouse/verify"
)

// compileRego compiles the policy's Rego module, read inline or from a
// ConfigMap.
func (p *Policy) compileRego(ctx context.Context, o Object, cluster SecretReader, opts rego.Options) error {
	r := o.Spec.Rego
	if r == nil {
		return nil
	}
	module, err := readSource(ctx, o, "spec.rego", source{"module", r.Module, nil, r.ConfigMapRef, "Rego module"}, cluster)
	if err != nil {
		return err
	}
	switch r.Scope {
	case "", v1alpha1.RegoScopeImage:
	case v1alpha1.RegoScopePod:
		p.PodScope = true
	default:
		return fmt.Errorf("spec.rego.scope %q: use image (default) or pod", r.Scope)
	}
	p.Rego, err = rego.Compile(ctx, o.ID()+".rego", string(module), opts)
	if err != nil {
		return fmt.Errorf("spec.rego: %w", err)
	}
	return nil
}

// EvaluateRego judges in with the policy's module, once its signatures
// passed (o). Without a module, or with a pod-scoped one, it returns o
// unchanged.
func (p *Policy) EvaluateRego(ctx context.Context, o Outcome, in *rego.Input) Outcome {
	if p.Rego == nil || p.PodScope || !o.Passed {
		return o
	}
	return p.evalRego(ctx, o, in)
}

// EvaluatePodRego judges in (input.images set) with the policy's
// pod-scoped module.
func (p *Policy) EvaluatePodRego(ctx context.Context, in *rego.Input) Outcome {
	return p.evalRego(ctx, Outcome{Policy: p.ID, Mode: p.Mode, Passed: true}, in)
}

func (p *Policy) evalRego(ctx context.Context, o Outcome, in *rego.Input) Outcome {
	in = p.ownView(in)
	for _, im := range append(in.Images, deref(in.Image)...) {
		if e := im.ConfigError; e != nil {
			o.Passed, o.Reason, o.Message = false, e.Reason, e.Message
			return o
		}
	}
	in.Policy = rego.Policy{Name: p.ID, Revision: p.Rego.Revision}
	v, err := in.Value()
	if err != nil {
		return Outcome{Policy: p.ID, Mode: p.Mode, Reason: verify.ReasonInternal, Message: err.Error()}
	}
	d := p.Rego.Eval(ctx, v)
	o.Warnings = d.Warn
	if d.Allowed() {
		return o
	}
	o.Passed, o.Reason = false, verify.ReasonRegoDeny
	switch {
	case d.Error != "":
		o.Message = fmt.Sprintf("%s's Rego module reached no decision, which denies: %s", p.ID, d.Error)
	case len(d.Deny) > 0:
		o.Message = p.ID + ": " + strings.Join(d.Deny, "; ")
	default:
		o.Message = fmt.Sprintf("%s's Rego module does not allow the image (allow is false)", p.ID)
	}
	return o
}

func deref(im *rego.Image) []rego.Image {
	if im == nil {
		return nil
	}
	return []rego.Image{*im}
}

// ownView returns in with each image's verification narrowed to this
// policy's own authorities and attestation requirements: a module never
// sees what another policy (another tenant's ImagePolicy) asked to verify.
func (p *Policy) ownView(in *rego.Input) *rego.Input {
	out := *in
	own := func(id string) bool { return strings.HasPrefix(id, p.ID+"/") }
	narrow := func(im rego.Image) rego.Image {
		r := im.Result
		r.Signatures = keep(r.Signatures, func(s verify.Signature) bool { return own(s.Authority) })
		r.Attestations = keep(r.Attestations, func(a verify.Attestation) bool { return own(a.Requirement) })
		r.Rejected = keep(r.Rejected, func(j verify.Rejection) bool { return own(j.Authority) })
		r.Platforms = slices.Clone(r.Platforms)
		for i := range r.Platforms {
			r.Platforms[i].Signatures = keep(r.Platforms[i].Signatures, func(s verify.Signature) bool { return own(s.Authority) })
			r.Platforms[i].Rejected = keep(r.Platforms[i].Rejected, func(j verify.Rejection) bool { return own(j.Authority) })
		}
		im.Result = r
		return im
	}
	if in.Image != nil {
		im := narrow(*in.Image)
		out.Image = &im
	}
	out.Images = make([]rego.Image, 0, len(in.Images))
	for _, im := range in.Images {
		out.Images = append(out.Images, narrow(im))
	}
	if in.Images == nil {
		out.Images = nil
	}
	return &out
}

func keep[T any](s []T, f func(T) bool) []T {
	if s == nil {
		return nil
	}
	out := make([]T, 0, len(s))
	for _, v := range s {
		if f(v) {
			out = append(out, v)
		}
	}
	return out
}
