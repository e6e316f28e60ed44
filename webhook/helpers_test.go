package webhook

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// fixture is a registry with a signed and an unsigned image and a gatehouse
// whose one policy trusts the signing key for everything in that registry.
type fixture struct {
	host             string
	signed, unsigned string // tag references
	signedDigest     string
	key              *verifytest.Key
	registry         *prometheus.Registry
	server           *httptest.Server
	admitter         *Admitter
}

func newFixture(t testing.TB, mutateCfg func(*Config), spec func(*v1alpha1.ImagePolicySpec)) *fixture {
	t.Helper()
	f := &fixture{host: verifytest.Registry(t)}
	key := verifytest.NewKey(t)
	f.key = key
	d := verifytest.PushImage(t, f.host+"/app/signed:v1")
	verifytest.Sign(t, f.host+"/app/signed", d, key, verifytest.Payload(f.host+"/app/signed", d))
	verifytest.PushImage(t, f.host+"/app/unsigned:v1")
	f.signed, f.unsigned, f.signedDigest = f.host+"/app/signed:v1", f.host+"/app/unsigned:v1", d.String()

	store := policy.NewStore()
	s := v1alpha1.ImagePolicySpec{
		Images:      []v1alpha1.ImageGlob{{Glob: f.host + "/**"}},
		Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: key.PublicPEM}}},
	}
	if spec != nil {
		spec(&s)
	}
	if err := store.Apply(policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "ci", Spec: s}); err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{}), Cache: verify.NewCache(100, time.Minute, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	f.registry = prometheus.NewRegistry()
	cfg := Config{Verifier: v, Policies: store, Unmatched: Deny, InfraFailure: Deny,
		Metrics: NewMetrics(f.registry), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mutateCfg != nil {
		mutateCfg(&cfg)
	}
	if f.admitter, err = NewAdmitter(cfg); err != nil {
		t.Fatal(err)
	}
	f.server = httptest.NewServer(NewServer(f.admitter, ServerOptions{}).Handler())
	t.Cleanup(f.server.Close)
	return f
}

func pod(name string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team"}}
	for i, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: c})
	}
	return p
}

func raw(t testing.TB, obj any) runtime.RawExtension {
	t.Helper()
	if obj == nil {
		return runtime.RawExtension{}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: b}
}

type reviewOpts struct {
	kind        metav1.GroupVersionKind
	op          admissionv1.Operation
	subResource string
	old         any
	dryRun      bool
	namespace   string // "team" when empty
}

func review(t testing.TB, obj any, o reviewOpts) *admissionv1.AdmissionReview {
	t.Helper()
	if o.kind.Kind == "" {
		o.kind = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	}
	if o.op == "" {
		o.op = admissionv1.Create
	}
	rev := &admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("uid-1"), Kind: o.kind, Operation: o.op, SubResource: o.subResource,
			Namespace: cmp.Or(o.namespace, "team"), Name: "p", Object: raw(t, obj), OldObject: raw(t, o.old), DryRun: &o.dryRun,
		},
	}
	return rev
}

// post sends rev to path and decodes the answer.
func (f *fixture) post(t testing.TB, path string, rev *admissionv1.AdmissionReview) *admissionv1.AdmissionResponse {
	t.Helper()
	body, _ := json.Marshal(rev)
	resp, err := http.Post(f.server.URL+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Response == nil || out.Response.UID != rev.Request.UID {
		t.Fatalf("response %+v does not echo uid %s", out.Response, rev.Request.UID)
	}
	return out.Response
}

func (f *fixture) validate(t testing.TB, obj any, o reviewOpts) *admissionv1.AdmissionResponse {
	return f.post(t, PathValidate, review(t, obj, o))
}
