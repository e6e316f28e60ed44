package docs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/webhook"
)

// admitOnePod asks a real Admitter, configured by cfg and policies, about a
// Pod running image, and returns the decision.
func admitOnePod(t *testing.T, cfg webhook.Config, image string, policies ...policy.Object) webhook.Decision {
	t.Helper()
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	store := policy.NewStore()
	for _, p := range policies {
		if err := store.Apply(p); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Verifier, cfg.Policies = v, store
	cfg.Log = slog.New(slog.DiscardHandler)
	a, err := webhook.NewAdmitter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "app"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{
		UID:       "uid",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: "app", Name: "p", Operation: admissionv1.Create,
		Object: runtime.RawExtension{Raw: raw},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.Admit(ctx, req, false)
}

// brokenRegistry is a registry that answers every request with 503.
func brokenRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func publicKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Every value of the decision label that real decisions produce is
// documented, and the docs list no other.
func TestDecisionLabelValuesAreDocumented(t *testing.T) {
	host := brokenRegistry(t)
	trustHost := policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "p", Spec: v1alpha1.ImagePolicySpec{
		Images:      []v1alpha1.ImageGlob{{Glob: host + "/**"}},
		Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: publicKeyPEM(t)}}},
	}}
	unmatched := "registry.example.com/app:v1"
	cases := []struct {
		name string
		want string
		d    webhook.Decision
	}{
		{"unmatched image, allowed", "allow", admitOnePod(t, webhook.Config{Unmatched: webhook.Allow, InfraFailure: webhook.Deny}, unmatched)},
		{"unmatched image, denied", "deny", admitOnePod(t, webhook.Config{Unmatched: webhook.Deny, InfraFailure: webhook.Deny}, unmatched)},
		{"unmatched image, warned", "warn", admitOnePod(t, webhook.Config{Unmatched: webhook.Warn, InfraFailure: webhook.Deny}, unmatched)},
		{"registry down, failing open", "fail-open", admitOnePod(t, webhook.Config{Unmatched: webhook.Deny, InfraFailure: webhook.Allow}, host+"/app:v1", trustHost)},
	}
	rows := tableRows(section(t, readFile(t, "metrics.md"), "### `decision`"), regexp.MustCompile("^`([a-z-]+)`$"))
	seen := map[string]bool{}
	for _, c := range cases {
		label := c.d.Label()
		if label != c.want {
			t.Errorf("%s: label %q, want %q (decision %+v)", c.name, label, c.want, c.d)
		}
		if r := c.d.Reason; (label == "allow") != (r == "") || (label == "fail-open" && !r.Infrastructure()) {
			t.Errorf("%s: decision %s with reason %q contradicts docs/metrics.md", c.name, label, r)
		}
		seen[label] = true
		if _, ok := rows[label]; !ok {
			t.Errorf("docs/metrics.md: decision value %q is not in the decision table", label)
		}
	}
	for value := range rows {
		if !seen[value] {
			t.Errorf("docs/metrics.md: decision value %q is documented but no decision here has it", value)
		}
	}
}

// reasonRows reads a table whose first column is `reason` and whose second
// says definitive or inconclusive.
func reasonRows(t *testing.T, file, md string) map[string][]string {
	t.Helper()
	rows := tableRows(md, regexp.MustCompile("^`([a-z-]+)`$"))
	out := map[string][]string{}
	for r, rs := range rows {
		if len(rs) != 1 {
			t.Errorf("%s: reason %s has %d rows", file, r, len(rs))
		}
		out[r] = rs[0]
	}
	return out
}

func kindOf(r verify.Reason) string {
	if r.Inconclusive() {
		return "inconclusive"
	}
	return "definitive"
}

func TestReasonsAreDocumented(t *testing.T) {
	if len(verify.Reasons) == 0 {
		t.Fatal("verify.Reasons is empty")
	}
	known := map[string]bool{}
	for _, r := range verify.Reasons {
		known[string(r)] = true
	}

	md := readFile(t, "reasons.md")
	table := reasonRows(t, "docs/reasons.md", md)
	headings := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^## `([^`]+)`$").FindAllStringSubmatch(md, -1) {
		headings[m[1]] = true
	}
	for _, r := range verify.Reasons {
		row, ok := table[string(r)]
		switch {
		case !headings[string(r)]:
			t.Errorf("docs/reasons.md: no section \"## `%s`\"", r)
		case !ok || len(row) < 3:
			t.Errorf("docs/reasons.md: %s is missing from the table", r)
		case row[1] != kindOf(r):
			t.Errorf("docs/reasons.md: %s is %s, the table says %q", r, kindOf(r), row[1])
		case row[2] != map[bool]string{true: "yes", false: "no"}[r.Infrastructure()]:
			t.Errorf("docs/reasons.md: %s may fail open: %v, the table says %q", r, r.Infrastructure(), row[2])
		}
	}
	for r := range headings {
		if !known[r] {
			t.Errorf("docs/reasons.md: section %q is not a reason in verify.Reasons", r)
		}
	}
	for r := range table {
		if !known[r] {
			t.Errorf("docs/reasons.md: table row %q is not a reason in verify.Reasons", r)
		}
	}

	reasonSection := section(t, readFile(t, "metrics.md"), "### `reason`")
	if !regexp.MustCompile("(?m)^\\| `\"\"` \\|").MatchString(reasonSection) {
		t.Error("docs/metrics.md: the reason table has no row for the empty reason `\"\"` of allowed requests")
	}
	metrics := reasonRows(t, "docs/metrics.md", reasonSection)
	for _, r := range verify.Reasons {
		row, ok := metrics[string(r)]
		switch {
		case !ok || len(row) < 3:
			t.Errorf("docs/metrics.md: reason %s is missing from the reason table", r)
		case row[1] != kindOf(r):
			t.Errorf("docs/metrics.md: %s is %s, the reason table says %q", r, kindOf(r), row[1])
		case r.Infrastructure() != strings.HasPrefix(row[2], "yes"):
			t.Errorf("docs/metrics.md: %s may fail open: %v, the reason table says %q", r, r.Infrastructure(), row[2])
		}
	}
	for r := range metrics {
		if !known[r] {
			t.Errorf("docs/metrics.md: reason table row %q is not a reason in verify.Reasons", r)
		}
	}
}
