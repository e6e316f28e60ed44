package kubeevents

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/webhook"
)

func request(name, generate string) *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{Namespace: "team", Name: name, Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Object: runtime.RawExtension{Raw: []byte(`{"metadata":{"generateName":"` + generate + `"}}`)}}
}

// Denials become Warning Events on the object, once per object, reason and
// policy per window.
func TestDenied(t *testing.T) {
	client := fake.NewClientset()
	r := New(client, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	unsigned := &webhook.Decision{Reason: verify.ReasonUnsigned, Policy: "ClusterImagePolicy/ci", Denials: []string{`image "x": unsigned: not signed`}}
	r.Denied(request("web", ""), unsigned)
	r.Denied(request("web", ""), unsigned) // the same again: not recorded twice
	r.Denied(request("", "web-7d9f-"), &webhook.Decision{Reason: verify.ReasonRegoDeny, Policy: "ClusterImagePolicy/rules", Denials: []string{"rego"}})
	var names []string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		list, err := client.CoreV1().Events("team").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) >= 2 {
			names = nil
			for _, e := range list.Items {
				if e.Type != "Warning" || e.Reason != "Denied" || e.Source.Component != "gatehouse" || !strings.HasPrefix(e.Message, "gatehouse denied Pod team/") {
					t.Fatalf("event %+v", e)
				}
				names = append(names, e.InvolvedObject.Name)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Join(names, ",") != "web,web-7d9f-" && strings.Join(names, ",") != "web-7d9f-,web" {
		t.Fatalf("events for %v", names)
	}
}

// Past Burst events in a window, denials are dropped and counted, never
// queued without bound.
func TestBurst(t *testing.T) {
	r := New(fake.NewClientset(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	d := &webhook.Decision{Reason: verify.ReasonUnsigned, Denials: []string{"x"}}
	for i := range Burst + 5 {
		r.Denied(request(fmt.Sprintf("pod-%d", i), ""), d)
	}
	if r.Dropped() != 5 || len(r.queue) != Burst {
		t.Fatalf("dropped %d, queued %d", r.Dropped(), len(r.queue))
	}
}
