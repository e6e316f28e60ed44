// Package kubeevents records gatehouse's denials as Kubernetes Events in
// the denied object's namespace, so that `kubectl get events` (and a
// controller's own events) show why a pod was not created.
//
// Recording never blocks an admission: denials go through a bounded queue
// to one writer, and are rate-limited: one Event per object, reason and
// policy per window, and at most Burst Events per window in all. What does
// not fit is dropped and counted.
package kubeevents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"gatehouse.dev/gatehouse/webhook"
)

// Defaults.
const (
	Window     = time.Minute
	Burst      = 60
	QueueSize  = 256
	MaxMessage = 1024
	Component  = "gatehouse"
)

// Recorder is a webhook.EventSink writing core/v1 Events.
type Recorder struct {
	client kubernetes.Interface
	log    *slog.Logger
	now    func() time.Time
	queue  chan *corev1.Event

	mu      sync.Mutex
	seen    map[string]time.Time // object/reason/policy -> last recorded
	window  time.Time            // start of the current window
	inWin   int                  // events recorded in the current window
	dropped int
}

// New returns a Recorder; Run writes its events.
func New(client kubernetes.Interface, log *slog.Logger) *Recorder {
	return &Recorder{client: client, log: log, now: time.Now, queue: make(chan *corev1.Event, QueueSize), seen: map[string]time.Time{}}
}

// Denied implements webhook.EventSink.
func (r *Recorder) Denied(req *admissionv1.AdmissionRequest, d *webhook.Decision) {
	r.record(req, d, "Denied")
}

// NonCompliant records that a running object would now be denied, as found
// by revalidation; the message is the denial it would get.
func (r *Recorder) NonCompliant(req *admissionv1.AdmissionRequest, d *webhook.Decision) {
	r.record(req, d, "NonCompliant")
}

func (r *Recorder) record(req *admissionv1.AdmissionRequest, d *webhook.Decision, reason string) {
	name := req.Name
	if name == "" {
		name = generateName(req)
	}
	if !r.admit(reason + "/" + req.Namespace + "/" + req.Kind.Kind + "/" + name + "/" + string(d.Reason) + "/" + d.Policy) {
		return
	}
	now := metav1.NewTime(r.now())
	msg := d.Message(req.Kind.Kind, req.Namespace, name)
	if reason == "NonCompliant" {
		msg = fmt.Sprintf("gatehouse finds running %s %s/%s non-compliant: %s", req.Kind.Kind, req.Namespace, name, strings.Join(d.Denials, "; "))
	}
	if len(msg) > MaxMessage {
		msg = msg[:MaxMessage-3] + "..."
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", name, now.UnixNano()), Namespace: req.Namespace},
		InvolvedObject: corev1.ObjectReference{
			Kind: req.Kind.Kind, Namespace: req.Namespace, Name: name,
			APIVersion: apiVersion(req.Kind.Group, req.Kind.Version),
		},
		Reason: reason, Message: msg, Type: corev1.EventTypeWarning, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source:              corev1.EventSource{Component: Component},
		ReportingController: "gatehouse.dev/gatehouse", ReportingInstance: Component,
		Action: "Admit",
	}
	select {
	case r.queue <- ev:
	default:
		r.mu.Lock()
		r.dropped++
		r.mu.Unlock()
	}
}

// admit applies the rate limits to one event key.
func (r *Recorder) admit(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.window) >= Window {
		r.window, r.inWin = now, 0
		for k, t := range r.seen {
			if now.Sub(t) >= Window {
				delete(r.seen, k)
			}
		}
	}
	if t, ok := r.seen[key]; ok && now.Sub(t) < Window {
		return false
	}
	if r.inWin >= Burst {
		r.dropped++
		return false
	}
	r.seen[key] = now
	r.inWin++
	return true
}

// Dropped counts denials not recorded because a limit or the queue was full.
func (r *Recorder) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// Run writes queued events until ctx ends.
func (r *Recorder) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.queue:
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if _, err := r.client.CoreV1().Events(ev.Namespace).Create(wctx, ev, metav1.CreateOptions{}); err != nil {
				r.log.Warn("recording a denial as an Event", "namespace", ev.Namespace, "object", ev.InvolvedObject.Name, "error", err)
			}
			cancel()
		}
	}
}

// generateName names an object created with metadata.generateName, which
// has no name yet when it is admitted.
func generateName(req *admissionv1.AdmissionRequest) string {
	var obj struct {
		Metadata struct {
			GenerateName string `json:"generateName"`
		} `json:"metadata"`
	}
	if json.Unmarshal(req.Object.Raw, &obj) == nil && obj.Metadata.GenerateName != "" {
		return obj.Metadata.GenerateName
	}
	return "unnamed"
}

func apiVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}
