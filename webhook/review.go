package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/verify"
)

// Limits of the HTTP layer.
const (
	// DefaultMaxBodyBytes caps an AdmissionReview. The API server stores
	// objects of at most 1.5 MiB; a review carries two.
	DefaultMaxBodyBytes = 7 << 20
	// minBudget is the least time gatehouse gives itself to decide.
	minBudget = 500 * time.Millisecond
	// grace is how long past its own deadline gatehouse waits for a decision
	// before answering "timeout" anyway.
	grace = 250 * time.Millisecond
)

// budget returns how long gatehouse may spend deciding: the timeout the API
// server sent (?timeout=10s), less a margin to encode and send the answer,
// so gatehouse always answers before the API server gives up.
func budget(r *http.Request, fallback time.Duration) time.Duration {
	t := fallback
	if s := r.URL.Query().Get("timeout"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			t = d
		}
	}
	margin := max(t/5, time.Second)
	return max(t-margin, minBudget)
}

// httpError is a request that cannot be answered with an AdmissionReview.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

// readReview checks and decodes the request body.
func readReview(w http.ResponseWriter, r *http.Request, maxBody int64) (*admissionv1.AdmissionReview, error) {
	if r.Method != http.MethodPost {
		return nil, &httpError{http.StatusMethodNotAllowed, "use POST"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, &httpError{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", maxBody)}
	}
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, "reading body: " + err.Error()}
	}
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &rev); err != nil {
		return nil, &httpError{http.StatusBadRequest, "decoding AdmissionReview: " + err.Error()}
	}
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" || rev.Request == nil || rev.Request.UID == "" {
		return nil, &httpError{http.StatusBadRequest, "want an admission.k8s.io/v1 AdmissionReview with a request and a uid"}
	}
	return &rev, nil
}

// decide runs the Admitter under the deadline, turning a panic into a deny
// with reason internal and a decision that comes too late into a deny with
// reason timeout.
func (s *Server) decide(ctx context.Context, req *admissionv1.AdmissionRequest, mutate bool) Decision {
	done := make(chan Decision, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.metrics.panicked()
				s.log.Error("panic while deciding; denied", "uid", req.UID, "panic", p, "stack", string(debug.Stack()))
				done <- internalError(fmt.Sprintf("gatehouse failed internally (%v); this is a bug, please report it", p))
			}
		}()
		done <- s.admitter.Admit(ctx, req, mutate)
	}()
	deadline, _ := ctx.Deadline()
	timer := time.NewTimer(time.Until(deadline) + grace)
	defer timer.Stop()
	select {
	case d := <-done:
		return d
	case <-timer.C:
		return s.admitter.overrun()
	}
}

// overrun is the decision when deciding took longer than the budget: a
// timeout, which fails open only when gatehouse is configured to.
func (a *Admitter) overrun() Decision {
	const msg = "gatehouse could not decide before the webhook deadline"
	if a.cfg.InfraFailure == Allow {
		return Decision{Allowed: true, FailOpen: true, Reason: verify.ReasonTimeout, failOpenReason: verify.ReasonTimeout,
			Warnings: []string{"admitted without verification (gatehouse fails open on infrastructure errors): " + msg}}
	}
	return Decision{Reason: verify.ReasonTimeout, denyReason: verify.ReasonTimeout, Denials: []string{msg}}
}

// mutationOnly keeps what the mutating webhook may say: a patch, never a
// denial. Whatever went wrong, the validating webhook is the gate and
// reports it.
func mutationOnly(d Decision) Decision {
	if !d.Allowed {
		return Decision{Allowed: true}
	}
	return Decision{Allowed: true, Patch: d.Patch, Images: d.Images}
}

func internalError(msg string) Decision {
	return Decision{Reason: verify.ReasonInternal, denyReason: verify.ReasonInternal, Denials: []string{msg}}
}

// response turns a decision into the AdmissionResponse for req.
func response(req *admissionv1.AdmissionRequest, d *Decision) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: d.Allowed, Warnings: d.Warnings}
	if !d.Allowed {
		resp.Result = &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusForbidden,
			Reason:  metav1.StatusReasonForbidden,
			Message: d.Message(req.Kind.Kind, req.Namespace, objectName(req)),
		}
	}
	if len(d.Patch) > 0 {
		patch, err := json.Marshal(d.Patch)
		if err == nil {
			pt := admissionv1.PatchTypeJSONPatch
			resp.Patch, resp.PatchType = patch, &pt
		}
	}
	if len(d.Patch) == 0 { // the mutating webhook's answers are not audited
		resp.AuditAnnotations = auditAnnotations(d)
	}
	return resp
}

func objectName(req *admissionv1.AdmissionRequest) string {
	if req.Name != "" {
		return req.Name
	}
	var meta struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if json.Unmarshal(req.Object.Raw, &meta) == nil && meta.Metadata.GenerateName != "" {
		return meta.Metadata.GenerateName + "*"
	}
	return "(unnamed)"
}

// auditAnnotations land in the Kubernetes audit log under
// "<webhook name>/<key>".
func auditAnnotations(d *Decision) map[string]string {
	if len(d.Images) == 0 && d.Allowed {
		return nil
	}
	a := map[string]string{"decision": d.Label()}
	if d.Reason != "" {
		a["reason"] = string(d.Reason)
	}
	if d.Policy != "" {
		a["policy"] = d.Policy
	}
	if len(d.Audit) > 0 {
		b, _ := json.Marshal(d.Audit)
		a["audit-failures"] = string(b)
	}
	return a
}
