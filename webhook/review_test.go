package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRequestsThatAreNotReviews(t *testing.T) {
	f := newFixture(t, nil, nil)
	big := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}}`
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantStatus  int
	}{
		{name: "GET", method: http.MethodGet, contentType: "application/json", wantStatus: http.StatusMethodNotAllowed},
		{name: "wrong content type", method: http.MethodPost, contentType: "text/plain", body: "{}", wantStatus: http.StatusUnsupportedMediaType},
		{name: "body over the cap", method: http.MethodPost, contentType: "application/json", body: big, wantStatus: http.StatusRequestEntityTooLarge},
		{name: "not JSON", method: http.MethodPost, contentType: "application/json", body: "{{{", wantStatus: http.StatusBadRequest},
		{name: "no request", method: http.MethodPost, contentType: "application/json", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, wantStatus: http.StatusBadRequest},
		{name: "v1beta1 review", method: http.MethodPost, contentType: "application/json", body: `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`, wantStatus: http.StatusBadRequest},
		{name: "no uid", method: http.MethodPost, contentType: "application/json", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`, wantStatus: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.server.URL+PathValidate, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
		})
	}
}

// A malformed object inside a well-formed review is denied with the uid
// echoed, never answered with an error the API server could misread.
func TestMalformedObjectIsDenied(t *testing.T) {
	f := newFixture(t, nil, nil)
	rev := review(t, pod("p", f.signed), reviewOpts{})
	rev.Request.Object.Raw = []byte(`{"spec":{"containers":[{"name":"a","image":"x","image":"y"}]}}`)
	resp := f.post(t, PathValidate, rev)
	if resp.Allowed || !strings.Contains(msg(resp), "duplicate") {
		t.Fatalf("allowed %v message %q", resp.Allowed, msg(resp))
	}
}

type panickingKeychains struct{}

func (panickingKeychains) Keychain(context.Context, string, string, []string) (authn.Keychain, error) {
	panic("boom")
}

func TestPanicIsADeny(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Keychains = panickingKeychains{}; c.InfraFailure = Allow }, nil)
	resp := f.validate(t, pod("p", f.signed), reviewOpts{})
	if resp.Allowed || !strings.Contains(msg(resp), "internal") {
		t.Fatalf("allowed %v message %q", resp.Allowed, msg(resp))
	}
	if got := testutil.ToFloat64(f.admitter.cfg.Metrics.panics); got != 1 {
		t.Fatalf("panics = %v, want 1", got)
	}
}

// blockingKeychains never returns, ignoring its context: the worst kind of
// dependency. Gatehouse must still answer, with a deny, before the API
// server's timeout.
type blockingKeychains struct{ release chan struct{} }

func (b blockingKeychains) Keychain(context.Context, string, string, []string) (authn.Keychain, error) {
	<-b.release
	return authn.NewMultiKeychain(), nil
}

func TestAnswersBeforeTheDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newFixture(t, func(c *Config) { c.Keychains = blockingKeychains{release: release} }, nil)
	body, _ := json.Marshal(review(t, pod("p", f.signed), reviewOpts{}))
	client := &http.Client{Timeout: 5 * time.Second} // the API server's patience, generously
	resp, err := client.Post(f.server.URL+PathValidate+"?timeout=1s", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Response struct {
			Allowed bool
			Result  struct{ Message string } `json:"status"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Response.Allowed || !strings.Contains(out.Response.Result.Message, "deadline") {
		t.Fatalf("response %+v", out.Response)
	}
}

func TestBudget(t *testing.T) {
	tests := []struct {
		query string
		want  time.Duration
	}{
		{query: "", want: 8 * time.Second},
		{query: "?timeout=10s", want: 8 * time.Second},
		{query: "?timeout=30s", want: 24 * time.Second},
		{query: "?timeout=2s", want: time.Second},
		{query: "?timeout=1s", want: minBudget},
		{query: "?timeout=garbage", want: 8 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/validate"+tc.query, nil)
			if got := budget(r, 10*time.Second); got != tc.want {
				t.Fatalf("budget %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProbes(t *testing.T) {
	f := newFixture(t, nil, nil)
	notReady := func() error { return context.DeadlineExceeded }
	srv := httptest.NewServer(ProbeHandler(f.registry, map[string]Check{"policies": notReady}))
	defer srv.Close()
	f.validate(t, pod("p", f.unsigned), reviewOpts{})
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503, "/metrics": 200} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if n, err := testutil.GatherAndCount(f.registry, "gatehouse_admission_decisions_total"); err != nil || n != 1 {
		t.Fatalf("decision series %d (%v), want 1", n, err)
	}
}

// The mutating webhook never denies: a malformed object is the validating
// webhook's to refuse.
func TestMutatingWebhookNeverDenies(t *testing.T) {
	f := newFixture(t, nil, nil)
	rev := review(t, pod("p", f.signed), reviewOpts{})
	rev.Request.Object.Raw = []byte(`{"spec":{"containers":"not a list"}}`)
	if resp := f.post(t, PathMutate, rev); !resp.Allowed || len(resp.Patch) > 0 || resp.AuditAnnotations != nil {
		t.Fatalf("mutating answer %+v", resp)
	}
	if resp := f.post(t, PathValidate, rev); resp.Allowed {
		t.Fatal("validating webhook admitted a malformed pod")
	}
}

// A hung dependency past the deadline is a timeout, and timeouts fail open
// when so configured, counted as fail-open.
func TestOverrunFailsOpenWhenConfigured(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := newFixture(t, func(c *Config) { c.Keychains = blockingKeychains{release: release}; c.InfraFailure = Allow }, nil)
	rev := review(t, pod("p", f.signed), reviewOpts{})
	body, _ := json.Marshal(rev)
	resp, err := http.Post(f.server.URL+PathValidate+"?timeout=1s", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Response struct {
			Allowed  bool
			Warnings []string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if !out.Response.Allowed || len(out.Response.Warnings) == 0 || !strings.Contains(out.Response.Warnings[0], "fails open") {
		t.Fatalf("response %+v", out.Response)
	}
	if got := testutil.ToFloat64(f.admitter.cfg.Metrics.decisions.WithLabelValues("fail-open", "CREATE", "Pod", "", "", "timeout")); got != 1 {
		t.Fatalf("fail-open{timeout} = %v, want 1", got)
	}
}
