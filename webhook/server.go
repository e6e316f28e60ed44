package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Paths of the admission endpoints.
const (
	PathValidate = "/validate"
	PathMutate   = "/mutate"
)

// ServerOptions configure the HTTP layer.
type ServerOptions struct {
	// MaxBodyBytes caps a request body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// DefaultTimeout is assumed when a request carries no ?timeout=.
	DefaultTimeout time.Duration
}

// Server serves the admission endpoints.
type Server struct {
	admitter *Admitter
	metrics  *Metrics
	log      *slog.Logger
	opts     ServerOptions
}

// NewServer returns the HTTP layer around a.
func NewServer(a *Admitter, o ServerOptions) *Server {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 10 * time.Second
	}
	return &Server{admitter: a, metrics: a.cfg.Metrics, log: a.cfg.Log, opts: o}
}

// Handler returns the mux of the admission endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(PathValidate, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) })
	mux.HandleFunc(PathMutate, func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) })
	return mux
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, mutate bool) {
	start := time.Now()
	rev, err := readReview(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			http.Error(w, he.msg, he.code)
		}
		s.log.Warn("bad admission request", "error", err, "remote", r.RemoteAddr)
		return
	}
	req := rev.Request
	ctx, cancel := context.WithTimeout(r.Context(), budget(r, s.opts.DefaultTimeout))
	defer cancel()
	d := s.decide(ctx, req, mutate)
	if mutate {
		d = mutationOnly(d)
	}
	resp := response(req, &d)
	webhook := "validate"
	if mutate {
		webhook = "mutate"
	}
	s.metrics.observeDecision(&d, string(req.Operation), req.Kind.Kind, req.Namespace, time.Since(start).Seconds(), webhook)
	if !mutate {
		s.audit(req, &d, time.Since(start))
		if !d.Allowed && s.admitter.cfg.Events != nil && (req.DryRun == nil || !*req.DryRun) {
			s.admitter.cfg.Events.Denied(req, &d)
		}
	}
	write(w, req.UID, resp)
}

func write(w http.ResponseWriter, uid types.UID, resp *admissionv1.AdmissionResponse) {
	resp.UID = uid
	out := admissionv1.AdmissionReview{Response: resp}
	out.APIVersion, out.Kind = "admission.k8s.io/v1", "AdmissionReview"
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&out)
}

// audit writes the decision as one structured log line.
func (s *Server) audit(req *admissionv1.AdmissionRequest, d *Decision, took time.Duration) {
	dryRun := req.DryRun != nil && *req.DryRun
	s.log.Info("admission decision",
		"uid", req.UID, "user", req.UserInfo.Username, "operation", req.Operation,
		"kind", req.Kind.Kind, "namespace", req.Namespace, "name", objectName(req),
		"subResource", req.SubResource, "dryRun", dryRun,
		"decision", d.Label(), "reason", d.Reason, "policy", d.Policy, "mode", d.Mode, "denials", d.Denials, "warnings", d.Warnings,
		"audit", d.Audit, "images", auditImages(d.Images), "pod", d.Pod, "policyRevision", s.admitter.cfg.Policies.Snapshot().Revision,
		"durationMs", took.Milliseconds())
}
