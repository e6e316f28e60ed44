package e2e

import (
	"bufio"
	"context"
	"net/http"
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
