package webhook

import (
	"fmt"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/webhook/workload"
)

// Decision is the verdict on one admission request: the single value the
// response, the metrics and the audit record are made from.
type Decision struct {
	Allowed bool `json:"allowed"`
	// Reason is the class of the first denial, else of the first fail-open,
	// warn-mode or audit-mode failure; empty when nothing failed.
	Reason verify.Reason `json:"reason,omitempty"`
	// Policy and Mode are those of the policy whose failure gave Reason;
	// empty when no policy did (an unmatched image, a bad request).
	Policy string        `json:"policy,omitempty"`
	Mode   v1alpha1.Mode `json:"mode,omitempty"`
	// Denials are the messages that deny; joined, they are the response message.
	Denials []string `json:"denials,omitempty"`
	// Warnings are returned to the client verbatim.
	Warnings []string `json:"warnings,omitempty"`
	// Audit holds failures of audit-mode policies: recorded, not shown.
	Audit []string `json:"audit,omitempty"`
	// FailOpen is true when an inconclusive failure was admitted because
	// gatehouse is configured to fail open.
	FailOpen bool `json:"failOpen,omitempty"`
	// Patch pins digests (mutating webhook only).
	Patch []PatchOp `json:"-"`
	// Images holds the per-image verdicts.
	Images []ImageVerdict `json:"images,omitempty"`
	// Pod holds the outcomes of pod-scoped Rego modules, judged once per
	// request over every image.
	Pod []policy.Outcome `json:"pod,omitempty"`

	denyReason, failOpenReason, warnReason, auditReason verify.Reason
	// denyBy, failOpenBy, warnBy, auditBy: the outcome behind each reason.
	denyBy, failOpenBy, warnBy, auditBy *policy.Outcome
	// warned: a warn-mode policy failed or an unmatched image was let
	// through with a warning (informational warnings do not count).
	warned bool
}

// PatchOp is one JSON Patch operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// Label is the decision's value for the metrics' decision label.
func (d *Decision) Label() string {
	switch {
	case !d.Allowed:
		return "deny"
	case d.FailOpen:
		return "fail-open"
	case d.warned:
		return "warn"
	}
	return "allow"
}

// FailedPolicies lists, once each, the policies an image or the pod
// failed, whatever their mode.
func (d *Decision) FailedPolicies() []string {
	var out []string
	add := func(os []policy.Outcome) {
		for _, o := range os {
			if !o.Passed && o.Policy != "" && !slices.Contains(out, o.Policy) {
				out = append(out, o.Policy)
			}
		}
	}
	for _, v := range d.Images {
		add(v.Outcomes)
	}
	add(d.Pod)
	return out
}

func badRequest(msg string) Decision {
	return Decision{Reason: verify.ReasonBadRequest, Denials: []string{msg}, denyReason: verify.ReasonBadRequest}
}

func (a *Admitter) decide(w *workload.Workload, verdicts []ImageVerdict, pod []policy.Outcome, mutate bool) Decision {
	d := Decision{Images: verdicts, Pod: pod}
	for _, v := range verdicts {
		if mutate {
			d.pin(w, v)
			continue
		}
		a.judgeImage(&d, w, v)
	}
	for _, o := range pod {
		if !mutate {
			a.judgeOutcome(&d, "pod", o)
		}
	}
	d.Allowed = len(d.Denials) == 0
	d.Reason = cmpOr(cmpOr(d.denyReason, d.failOpenReason), cmpOr(d.warnReason, d.auditReason))
	d.blame()
	if mutate {
		d.Allowed, d.Denials, d.Warnings, d.Audit, d.Reason, d.FailOpen = true, nil, nil, nil, "", false
	}
	return d
}

// pin replaces a Pod's tag reference with tag@digest when a matching policy
// asks for it and the image did not fail an enforcing policy.
func (d *Decision) pin(w *workload.Workload, v ImageVerdict) {
	r := v.Result
	if !w.IsPod() || !v.Pin || r.Pinned || r.Digest == "" || r.Error != nil {
		return
	}
	for _, o := range v.Outcomes {
		if !o.Passed && o.Mode == v1alpha1.ModeEnforce {
			return
		}
	}
	d.Patch = append(d.Patch, PatchOp{Op: "replace", Path: v.Path, Value: r.PinnedReference()})
}

func (a *Admitter) judgeImage(d *Decision, w *workload.Workload, v ImageVerdict) {
	where := fmt.Sprintf("image %q (%s %q)", v.Ref, v.Field, v.Name)
	if v.Result.Error != nil && v.Result.Error.Reason == verify.ReasonBadRequest {
		d.deny(verify.ReasonBadRequest, where+": bad-request: "+v.Result.Error.Message)
		return
	}
	if v.Unmatched {
		a.judgeUnmatched(d, where, v)
	}
	passed := true
	for _, o := range v.Outcomes {
		passed = a.judgeOutcome(d, where, o) && passed
	}
	if passed && len(v.Outcomes) > 0 && w.IsPod() && !v.Result.Pinned && v.Result.Digest != "" {
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s verified as %s but not pinned: the kubelet pulls the tag, which may move. Pin the digest (pinDigest: true) or write it in the spec", where, v.Result.Digest))
	}
}

// judgeOutcome adds one policy outcome about where (an image, or the pod)
// to d, as its mode says, and reports whether it passed.
func (a *Admitter) judgeOutcome(d *Decision, where string, o policy.Outcome) bool {
	for _, w := range o.Warnings {
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s: %s: %s", where, o.Policy, w))
	}
	if o.Passed {
		return true
	}
	msg := fmt.Sprintf("%s: %s: %s", where, o.Reason, o.Message)
	switch {
	case o.Mode == v1alpha1.ModeAudit:
		first(&d.auditBy, d.auditReason, o)
		d.auditReason = cmpOr(d.auditReason, o.Reason)
		d.Audit = append(d.Audit, msg)
	case o.Mode == v1alpha1.ModeWarn:
		first(&d.warnBy, d.warnReason, o)
		d.warned = true
		d.warnReason = cmpOr(d.warnReason, o.Reason)
		d.Warnings = append(d.Warnings, "would be denied: "+msg)
	case o.Reason.Infrastructure() && a.cfg.InfraFailure == Allow:
		first(&d.failOpenBy, d.failOpenReason, o)
		d.FailOpen = true
		d.failOpenReason = cmpOr(d.failOpenReason, o.Reason)
		d.Warnings = append(d.Warnings, "admitted without verification (gatehouse fails open on infrastructure errors): "+msg)
	default:
		first(&d.denyBy, d.denyReason, o)
		d.deny(o.Reason, msg)
	}
	return false
}

// first records o as the outcome behind a reason not set yet.
func first(by **policy.Outcome, reason verify.Reason, o policy.Outcome) {
	if reason == "" {
		*by = &o
	}
}

// blame sets Policy and Mode from the outcome that gave Reason.
func (d *Decision) blame() {
	var by *policy.Outcome
	switch {
	case d.denyReason != "":
		by = d.denyBy
	case d.failOpenReason != "":
		by = d.failOpenBy
	case d.warnReason != "":
		by = d.warnBy
	default:
		by = d.auditBy
	}
	if by != nil {
		d.Policy, d.Mode = by.Policy, by.Mode
	}
}

func (a *Admitter) judgeUnmatched(d *Decision, where string, v ImageVerdict) {
	msg := fmt.Sprintf("%s: %s: no ClusterImagePolicy matches %s", where, verify.ReasonUnmatchedImage, v.Result.Repository)
	switch a.cfg.Unmatched {
	case Deny:
		d.deny(verify.ReasonUnmatchedImage, msg+"; images without a policy are denied. Fix: add the repository to a ClusterImagePolicy's spec.images")
	case Warn:
		d.warned = true
		d.warnReason = cmpOr(d.warnReason, verify.ReasonUnmatchedImage)
		d.Warnings = append(d.Warnings, msg)
	}
}

func (d *Decision) deny(r verify.Reason, msg string) {
	d.denyReason = cmpOr(d.denyReason, r)
	d.Denials = append(d.Denials, msg)
}

func cmpOr(a, b verify.Reason) verify.Reason {
	if a != "" {
		return a
	}
	return b
}

// Message is the text of a denial, as the API server shows it.
func (d *Decision) Message(kind, namespace, name string) string {
	obj := kind + " " + name
	if namespace != "" {
		obj = kind + " " + namespace + "/" + name
	}
	return fmt.Sprintf("gatehouse denied %s: %s", obj, strings.Join(d.Denials, "; "))
}
