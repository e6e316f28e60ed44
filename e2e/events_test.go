package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/e2e/stack"
)

// A denied pod leaves a Warning Event in its namespace (a dry run leaves
// none), and /metrics counts the denial by policy, mode and reason.
func TestDenialEventAndMetrics(t *testing.T) {
	ctx := need(t)
	_, err := createPod(ctx, newPod("events-dryrun", suite.unsigned), true)
	wantDenied(t, err, "unsigned")
	_, err = createPod(ctx, newPod("events-unsigned", suite.unsigned), false)
	wantDenied(t, err, "unsigned")

	found := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !found; time.Sleep(100 * time.Millisecond) {
		list, err := suite.Client.CoreV1().Events(stack.AppNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list.Items {
			switch e.InvolvedObject.Name {
			case "events-unsigned":
				if e.Type != "Warning" || e.Reason != "Denied" || e.InvolvedObject.Kind != "Pod" ||
					!strings.Contains(e.Message, `gatehouse denied Pod e2e/events-unsigned: image "`+suite.unsigned+`"`) {
					t.Fatalf("event %+v", e)
				}
				found = true
			case "events-dryrun":
				t.Fatalf("a dry run left an event: %+v", e)
			}
		}
	}
	if !found {
		t.Fatal("no Event for the denied pod")
	}

	want := `gatehouse_admission_decisions_total{decision="deny",kind="Pod",mode="enforce",operation="CREATE",policy="ClusterImagePolicy/e2e",reason="unsigned"}`
	if line := scrape(ctx, t, want); line == "" {
		t.Fatalf("/metrics has no %s", want)
	}
	for _, series := range []string{`gatehouse_registry_requests_total{code="2xx",registry="` + suite.Registry + `"}`, `gatehouse_verification_step_duration_seconds_count{step="resolve"}`, `gatehouse_verification_step_duration_seconds_count{step="signature-fetch"}`, `gatehouse_verification_step_duration_seconds_count{step="signature-verify"}`} {
		if scrape(ctx, t, series) == "" {
			t.Errorf("/metrics has no %s", series)
		}
	}
}

// scrape returns the line of gatehouse's /metrics that starts with series.
func scrape(ctx context.Context, t *testing.T, series string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, suite.ProbeURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), series+" ") {
			return sc.Text()
		}
	}
	return ""
}

// The API server's audit log carries gatehouse's verdict on each pod: the
// decision, and for a denial its reason and policy.
func TestAuditAnnotations(t *testing.T) {
	ctx := need(t)
	_, err := createPod(ctx, newPod("audit-unsigned", suite.unsigned), false)
	wantDenied(t, err, "unsigned")
	if _, err := createPod(ctx, newPod("audit-signed", suite.signed), false); err != nil {
		t.Fatal(err)
	}
	const prefix = "pods.validate.gatehouse.dev/" // the API server prefixes each key with the webhook's name
	want := map[string]map[string]string{
		"audit-unsigned": {prefix + "decision": "deny", prefix + "reason": "unsigned", prefix + "policy": "ClusterImagePolicy/e2e"},
		"audit-signed":   {prefix + "decision": "allow"},
	}
	got := map[string]map[string]string{}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && len(got) < len(want); time.Sleep(100 * time.Millisecond) {
		got = auditedPods(t, "create", "audit-unsigned", "audit-signed")
	}
	for pod, annotations := range want {
		if got[pod] == nil {
			t.Errorf("no audit event for the creation of pod %s", pod)
			continue
		}
		for k, v := range annotations {
			if got[pod][k] != v {
				t.Errorf("pod %s: audit annotation %s = %q, want %q (all: %v)", pod, k, got[pod][k], v, got[pod])
			}
		}
	}
	if _, ok := got["audit-signed"][prefix+"reason"]; ok {
		t.Errorf("an admitted pod has a reason: %v", got["audit-signed"])
	}
}

// auditedPods returns the annotations of the API server's audit events for
// verb on the named pods in the app namespace, at the end of each request.
func auditedPods(t *testing.T, verb string, names ...string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(suite.API.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Verb      string `json:"verb"`
			Stage     string `json:"stage"`
			ObjectRef struct {
				Resource, Namespace, Name string
			} `json:"objectRef"`
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		if e.Verb == verb && e.Stage == "ResponseComplete" && e.ObjectRef.Resource == "pods" &&
			e.ObjectRef.Namespace == stack.AppNamespace && slices.Contains(names, e.ObjectRef.Name) {
			out[e.ObjectRef.Name] = e.Annotations
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
