package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/rego"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/webhook"
)

// errDenied is returned by the CLI commands when the object is denied (or
// a test fails): exit code 1, the verdict already printed.
var errDenied = errors.New("denied")

// configError is a problem with what the user gave: exit code 2.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// offline decides objects as the webhook would, outside a cluster: policies
// from files, the registry over the network (or a transport serving a
// recorded layout), pull credentials from the docker config.
type offline struct {
	admitter *webhook.Admitter
}

type offlineOptions struct {
	policies  []string
	insecure  []string
	transport http.RoundTripper // nil: the network
	unmatched webhook.Action
	keychain  authn.Keychain // nil: anonymous
	now       time.Time      // zero: Rego modules read the real clock
}

// nowFlag is a --now value: an RFC 3339 time, or empty for the real clock.
type nowFlag struct{ t *time.Time }

func (f nowFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f nowFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-12-06T12:00:00Z: %v", err)
	}
	*f.t = t
	return nil
}

func newOffline(o offlineOptions) (*offline, error) {
	if len(o.policies) == 0 {
		return nil, configError{errors.New("no policy: give --policy FILE or DIR")}
	}
	objs, err := policy.ReadFiles(o.policies...)
	if err != nil {
		return nil, configError{err}
	}
	store := policy.NewStore(policy.SourceFiles)
	if !o.now.IsZero() {
		now := o.now
		store.SetRego(rego.Options{Now: func() time.Time { return now }})
	}
	var errs []error
	for _, obj := range objs {
		errs = append(errs, store.Apply(obj))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, configError{err}
	}
	store.Synced(policy.SourceFiles)
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{Transport: o.transport, Insecure: o.insecure, UserAgent: "gatehouse/" + version})})
	if err != nil {
		return nil, err
	}
	a, err := webhook.NewAdmitter(webhook.Config{
		Verifier: v, Policies: store, Keychains: keychainSource{o.keychain},
		Unmatched: o.unmatched, InfraFailure: webhook.Deny,
		Metrics: webhook.NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	return &offline{admitter: a}, nil
}

// keychainSource gives every pod the same credentials.
type keychainSource struct{ kc authn.Keychain }

func (k keychainSource) Keychain(context.Context, string, string, []string) (authn.Keychain, error) {
	return k.kc, nil
}

// decide runs the webhooks in the API server's order: the mutating one
// pins digests, then the validating one judges the pinned object.
func (o *offline) decide(ctx context.Context, req *admissionv1.AdmissionRequest) (webhook.Decision, []webhook.PatchOp) {
	patch := o.admitter.Admit(ctx, req, true).Patch
	if len(patch) > 0 {
		pinned := *req
		raw, err := applyPatch(req.Object.Raw, patch)
		if err != nil {
			return webhook.Decision{Denials: []string{"applying the digest pins: " + err.Error()}}, patch
		}
		pinned.Object = runtime.RawExtension{Raw: raw}
		req = &pinned
	}
	return o.admitter.Admit(ctx, req, false), patch
}

// applyPatch applies the JSON patch gatehouse's mutating webhook returns
// to the JSON object raw.
func applyPatch(raw []byte, ops []webhook.PatchOp) ([]byte, error) {
	ops64, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	patch, err := jsonpatch.DecodePatch(ops64)
	if err != nil {
		return nil, err
	}
	return patch.Apply(raw)
}

// podOf is a Pod in namespace running images, named gatehouse-verify.
func podOf(namespace string, images []string) ([]byte, error) {
	p := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "gatehouse-verify", Namespace: namespace}}
	for i, im := range images {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: im})
	}
	return json.Marshal(p)
}

// requestOf reads an object (YAML or JSON: a Pod, a pod controller, or an
// AdmissionReview) and returns the admission request the API server would
// send for creating it.
func requestOf(data []byte, namespace string) (*admissionv1.AdmissionRequest, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	var head struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return nil, err
	}
	if head.Kind == "AdmissionReview" {
		var rev admissionv1.AdmissionReview
		if err := json.Unmarshal(js, &rev); err != nil {
			return nil, err
		}
		if rev.Request == nil {
			return nil, errors.New("the AdmissionReview has no request")
		}
		return rev.Request, nil
	}
	if head.Kind == "" || head.APIVersion == "" {
		return nil, errors.New("the object has no apiVersion and kind")
	}
	gv, err := parseGroupVersion(head.APIVersion)
	if err != nil {
		return nil, err
	}
	if head.Metadata.Namespace != "" {
		namespace = head.Metadata.Namespace
	}
	return &admissionv1.AdmissionRequest{
		UID:       "gatehouse-cli",
		Kind:      metav1.GroupVersionKind{Group: gv[0], Version: gv[1], Kind: head.Kind},
		Resource:  metav1.GroupVersionResource{Group: gv[0], Version: gv[1], Resource: strings.ToLower(head.Kind) + "s"},
		Name:      head.Metadata.Name,
		Namespace: namespace,
		Operation: admissionv1.Create,
		UserInfo:  authenticationUser(),
		Object:    runtime.RawExtension{Raw: js},
	}, nil
}

func parseGroupVersion(apiVersion string) ([2]string, error) {
	group, ver, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return [2]string{"", apiVersion}, nil
	}
	if group == "" || ver == "" {
		return [2]string{}, fmt.Errorf("apiVersion %q", apiVersion)
	}
	return [2]string{group, ver}, nil
}

// render writes the verdict as the tests' golden files hold it: one line
// per fact, in a fixed order.
func render(w io.Writer, d webhook.Decision, patch []webhook.PatchOp) {
	verdict := "allowed"
	if !d.Allowed {
		verdict = "denied"
	}
	fmt.Fprintf(w, "%s", verdict)
	if d.Reason != "" {
		fmt.Fprintf(w, " (%s)", d.Reason)
	}
	fmt.Fprintln(w)
	for _, m := range d.Denials {
		fmt.Fprintf(w, "deny: %s\n", m)
	}
	for _, m := range d.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
	for _, m := range d.Audit {
		fmt.Fprintf(w, "audit: %s\n", m)
	}
	for _, p := range patch {
		fmt.Fprintf(w, "pin: %s -> %s\n", p.Path, p.Value)
	}
}

func authenticationUser() authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: "gatehouse-cli"}
}
