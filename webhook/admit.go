package webhook

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/policy/rego"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/webhook/workload"
)

// Admitter decides admission requests.
type Admitter struct {
	cfg Config
}

// NewAdmitter checks c and returns an Admitter.
func NewAdmitter(c Config) (*Admitter, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Admitter{cfg: c}, nil
}

// ImageVerdict is everything gatehouse found about one image of the object.
type ImageVerdict struct {
	workload.Image
	Result verify.Result `json:"result"`
	// Outcomes holds one entry per matching policy.
	Outcomes []policy.Outcome `json:"outcomes"`
	// Unmatched is true when no cluster policy matches the image.
	Unmatched bool `json:"unmatched,omitempty"`
	// Pin is true when a matching policy asks for the digest to be pinned.
	Pin bool `json:"-"`
	// matched are the policies that judged the image, in Outcomes' order.
	matched []*policy.Policy
}

// Admit decides req. With mutate set it computes the digest-pinning patch
// instead of a verdict; the server makes sure the mutating webhook never
// denies (mutationOnly): the validating webhook is the gate.
func (a *Admitter) Admit(ctx context.Context, req *admissionv1.AdmissionRequest, mutate bool) Decision {
	gk := schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}
	switch {
	case gk.Group == v1alpha1.Group:
		return a.admitPolicy(req, mutate)
	case req.Operation != admissionv1.Create && req.Operation != admissionv1.Update:
		return Decision{Allowed: true}
	case gk.Kind == "Pod" && gk.Group == "" && req.SubResource != "" && req.SubResource != "ephemeralcontainers":
		return Decision{Allowed: true} // status and other subresources cannot change images
	case !workload.Supported(gk):
		return badRequest(fmt.Sprintf("gatehouse does not check %s; the webhook configuration should not send it", req.Kind))
	}
	w, old, err := decodeWorkloads(gk, req)
	if err != nil {
		return badRequest(err.Error())
	}
	images := workload.Changed(w, old)
	if old != nil && !mutate && a.cfg.Policies.Snapshot().HasRego(req.Namespace) {
		// A module judges more than images: an update that keeps them (a
		// new literal env var, say) may still break its rules. The mutating
		// webhook still pins only changed images: pinning an unchanged one
		// would change it.
		images = w.Images()
	}
	base := regoRequest(req)
	// The mutating webhook pins what the signatures verified; Rego modules
	// judge the pinned object the validating webhook then sees.
	verdicts := a.verifyImages(ctx, base, w, images, !mutate)
	var pod []policy.Outcome
	if !mutate {
		pod = a.podOutcomes(ctx, base, verdicts)
	}
	return a.decide(w, verdicts, pod, mutate)
}

func decodeWorkloads(gk schema.GroupKind, req *admissionv1.AdmissionRequest) (w, old *workload.Workload, err error) {
	if w, err = workload.Decode(gk, req.Object.Raw); err != nil {
		return nil, nil, err
	}
	if req.Operation == admissionv1.Update {
		if old, err = workload.Decode(gk, req.OldObject.Raw); err != nil {
			return nil, nil, fmt.Errorf("old object: %w", err)
		}
	}
	return w, old, nil
}

// admitPolicy refuses policy resources that would not load, so a broken
// policy is reported to whoever applies it.
func (a *Admitter) admitPolicy(req *admissionv1.AdmissionRequest, mutate bool) Decision {
	if mutate || (req.Operation != admissionv1.Create && req.Operation != admissionv1.Update) {
		return Decision{Allowed: true}
	}
	o, err := policy.Decode(req.Object.Raw)
	if err == nil {
		o.Namespace = cmp.Or(o.Namespace, req.Namespace)
		err = a.cfg.Policies.Check(o)
	}
	if err != nil {
		return badRequest("gatehouse refused the policy: " + err.Error())
	}
	return Decision{Allowed: true}
}

// verifyImages verifies each distinct reference once, in parallel, and
// returns one verdict per image occurrence.
func (a *Admitter) verifyImages(ctx context.Context, base *rego.Input, w *workload.Workload, images []workload.Image, withRego bool) []ImageVerdict {
	set := a.cfg.Policies.Snapshot()
	namespace := base.Request.Namespace
	creds := &lazyKeychain{src: a.cfg.Keychains, namespace: namespace, sa: w.ServiceAccount(), secrets: w.PullSecrets()}
	byRef := map[string]*ImageVerdict{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, a.cfg.Concurrency)
	for _, im := range images {
		if _, seen := byRef[im.Ref]; seen {
			continue
		}
		v := &ImageVerdict{Image: im}
		byRef[im.Ref] = v
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			defer a.recoverImage(v)
			a.verifyOne(ctx, set, base, w, creds, v, withRego)
		}()
	}
	wg.Wait()
	out := make([]ImageVerdict, 0, len(images))
	for _, im := range images {
		v := *byRef[im.Ref]
		v.Image = im
		out = append(out, v)
	}
	return out
}

// recoverImage turns a panic while verifying one image into a failure of
// that image with reason internal, so it cannot take the process down.
func (a *Admitter) recoverImage(v *ImageVerdict) {
	if p := recover(); p != nil {
		a.cfg.Metrics.panicked()
		a.cfg.Log.Error("panic while verifying an image", "image", v.Ref, "panic", p, "stack", string(debug.Stack()))
		v.Result.Error = &verify.Error{Reason: verify.ReasonInternal, Message: fmt.Sprintf("gatehouse failed internally (%v); this is a bug, please report it", p)}
		v.Outcomes = []policy.Outcome{{Policy: "gatehouse", Mode: v1alpha1.ModeEnforce, Reason: verify.ReasonInternal, Message: v.Result.Error.Message}}
	}
}

func (a *Admitter) verifyOne(ctx context.Context, set *policy.Set, base *rego.Input, w *workload.Workload, creds *lazyKeychain, v *ImageVerdict, withRego bool) {
	namespace := base.Request.Namespace
	v.Result = verify.Result{Image: v.Ref, Signatures: []verify.Signature{}}
	if v.Ref == "" {
		v.Result.Error = &verify.Error{Reason: verify.ReasonBadRequest, Message: fmt.Sprintf("%s %q has no image", v.Field, v.Name)}
		return
	}
	repo, err := a.cfg.Verifier.Canonical(v.Ref)
	if err != nil {
		v.Result.Error = &verify.Error{Reason: verify.ReasonBadRequest, Message: fmt.Sprintf("image reference %q is not valid: %v", v.Ref, err)}
		return
	}
	v.Result.Repository = repo
	cluster, namespaced := set.Match(namespace, repo)
	v.Unmatched = len(cluster) == 0
	matched := append(cluster, namespaced...)
	if len(matched) == 0 || (v.Unmatched && a.cfg.Unmatched == Deny) {
		return // nothing to verify, or denied whatever its signatures
	}
	kc, err := creds.get(ctx)
	if err != nil {
		v.Result.Error = &verify.Error{Reason: verify.ReasonRegistryError, Message: "reading pull secrets: " + err.Error()}
	} else {
		req := verify.Request{Image: v.Ref, Keychain: kc, Authorities: policy.Authorities(matched), Attestations: policy.Checks(matched),
			Config: withRego && slices.ContainsFunc(matched, func(p *policy.Policy) bool { return p.Rego != nil })} // only modules read it
		if slices.ContainsFunc(matched, (*policy.Policy).NeedsPlatforms) {
			os, arch := w.Platforms()
			req.Platforms = &verify.Platforms{OS: os, Arch: arch}
		}
		v.Result = a.cfg.Verifier.Verify(ctx, req)
	}
	for _, p := range matched {
		o := p.Evaluate(&v.Result)
		if p.Rego != nil && withRego {
			in := *base
			in.Image = &rego.Image{Field: v.Field, Container: v.Name, Result: v.Result}
			start := time.Now()
			o = p.EvaluateRego(ctx, o, &in)
			a.cfg.Metrics.ObserveStep(StepRego, time.Since(start))
		}
		v.Outcomes = append(v.Outcomes, o)
		v.Pin = v.Pin || p.Pin
	}
	v.matched = matched
}

// podOutcomes evaluates each pod-scoped module once, over the images its
// policy matched that passed its signature and attestation checks (those
// that did not are denied on their own; the module still judges the pod,
// so a failing image, even one admitted by fail-open, cannot skip it).
func (a *Admitter) podOutcomes(ctx context.Context, base *rego.Input, verdicts []ImageVerdict) (out []policy.Outcome) {
	var order []*policy.Policy
	images := map[*policy.Policy][]rego.Image{}
	for _, v := range verdicts {
		for i, p := range v.matched {
			if !p.PodScope || p.Rego == nil {
				continue
			}
			if _, seen := images[p]; !seen {
				order = append(order, p)
				images[p] = []rego.Image{}
			}
			if i < len(v.Outcomes) && v.Outcomes[i].Passed {
				images[p] = append(images[p], rego.Image{Field: v.Field, Container: v.Name, Result: v.Result})
			}
		}
	}
	for _, p := range order {
		out = append(out, a.podOutcome(ctx, p, base, images[p]))
	}
	return out
}

// podOutcome evaluates one pod-scoped module; a panic is an internal
// failure of that policy, never a crash or an admission.
func (a *Admitter) podOutcome(ctx context.Context, p *policy.Policy, base *rego.Input, images []rego.Image) (o policy.Outcome) {
	defer func() {
		if r := recover(); r != nil {
			a.cfg.Metrics.panicked()
			a.cfg.Log.Error("panic while evaluating a pod policy", "policy", p.ID, "panic", r, "stack", string(debug.Stack()))
			o = policy.Outcome{Policy: p.ID, Mode: v1alpha1.ModeEnforce, Reason: verify.ReasonInternal, Message: fmt.Sprintf("gatehouse failed internally (%v); this is a bug, please report it", r)}
		}
	}()
	in := *base
	in.Images = images
	defer func(start time.Time) { a.cfg.Metrics.ObserveStep(StepRego, time.Since(start)) }(time.Now())
	return p.EvaluatePodRego(ctx, &in)
}

// regoRequest is the part of the Rego input shared by every image of req.
func regoRequest(req *admissionv1.AdmissionRequest) *rego.Input {
	in := &rego.Input{
		APIVersion: rego.InputVersion,
		Request: rego.Request{
			UID: string(req.UID), Operation: string(req.Operation), Namespace: req.Namespace, Name: req.Name,
			Kind:   rego.Kind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind},
			DryRun: req.DryRun != nil && *req.DryRun,
			User:   rego.User{Username: req.UserInfo.Username, Groups: req.UserInfo.Groups},
		},
		Object: req.Object.Raw,
	}
	if in.Request.User.Groups == nil {
		in.Request.User.Groups = []string{}
	}
	return in
}
