package manifests

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// webhook is what the validating and mutating webhooks have in common.
type webhook struct {
	clientConfig            admissionv1.WebhookClientConfig
	rules                   []admissionv1.RuleWithOperations
	failurePolicy           *admissionv1.FailurePolicyType
	matchPolicy             *admissionv1.MatchPolicyType
	namespaceSelector       *metav1.LabelSelector
	objectSelector          *metav1.LabelSelector
	sideEffects             *admissionv1.SideEffectClass
	timeoutSeconds          *int32
	admissionReviewVersions []string
}

// loadWebhooks returns every webhook by name, checking that both
// configurations are named gatehouse, as --webhook-config-name says.
func loadWebhooks(t *testing.T) map[string]webhook {
	t.Helper()
	docs := loadDocuments(t)
	vwc := decodeOne[admissionv1.ValidatingWebhookConfiguration](t, docs, "ValidatingWebhookConfiguration")
	mwc := decodeOne[admissionv1.MutatingWebhookConfiguration](t, docs, "MutatingWebhookConfiguration")
	if vwc.Name != "gatehouse" || mwc.Name != "gatehouse" {
		t.Fatalf("webhook configurations %q and %q, want gatehouse", vwc.Name, mwc.Name)
	}
	hooks := map[string]webhook{}
	for _, w := range vwc.Webhooks {
		hooks[w.Name] = webhook{w.ClientConfig, w.Rules, w.FailurePolicy, w.MatchPolicy, w.NamespaceSelector,
			w.ObjectSelector, w.SideEffects, w.TimeoutSeconds, w.AdmissionReviewVersions}
	}
	for _, w := range mwc.Webhooks {
		if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionv1.IfNeededReinvocationPolicy {
			t.Errorf("%s: reinvocationPolicy is not IfNeeded", w.Name)
		}
		hooks[w.Name] = webhook{w.ClientConfig, w.Rules, w.FailurePolicy, w.MatchPolicy, w.NamespaceSelector,
			w.ObjectSelector, w.SideEffects, w.TimeoutSeconds, w.AdmissionReviewVersions}
	}
	if len(hooks) != len(vwc.Webhooks)+len(mwc.Webhooks) {
		t.Fatal("two webhooks share a name")
	}
	return hooks
}

// Webhook names and the paths gatehouse serves them on.
var webhookPaths = map[string]string{
	"pods.validate.gatehouse.dev":      "/validate",
	"workloads.validate.gatehouse.dev": "/validate",
	"policies.validate.gatehouse.dev":  "/validate",
	"pods.mutate.gatehouse.dev":        "/mutate",
}

// failClosed are the webhooks that deny when gatehouse cannot answer.
var failClosed = []string{
	"pods.validate.gatehouse.dev",
	"workloads.validate.gatehouse.dev",
	"pods.mutate.gatehouse.dev",
}

func TestWebhookCommon(t *testing.T) {
	hooks := loadWebhooks(t)
	if len(hooks) != len(webhookPaths) {
		t.Errorf("found %d webhooks, want %d", len(hooks), len(webhookPaths))
	}
	for name, path := range webhookPaths {
		t.Run(name, func(t *testing.T) {
			w, ok := hooks[name]
			if !ok {
				t.Fatal("missing")
			}
			svc := w.clientConfig.Service
			switch {
			case svc == nil || w.clientConfig.URL != nil:
				t.Error("clientConfig is not a service")
			case svc.Namespace != namespace || svc.Name != "gatehouse" || svc.Path == nil || *svc.Path != path:
				t.Errorf("service %s/%s path %v, want %s/gatehouse path %s", svc.Namespace, svc.Name, svc.Path, namespace, path)
			case svc.Port == nil || *svc.Port != 443:
				t.Errorf("service port %v, want 443", svc.Port)
			}
			if len(w.clientConfig.CABundle) != 0 {
				t.Error("caBundle is set; gatehouse writes it")
			}
			if w.sideEffects == nil || *w.sideEffects != admissionv1.SideEffectClassNone {
				t.Errorf("sideEffects %v, want None", w.sideEffects)
			}
			if w.matchPolicy == nil || *w.matchPolicy != admissionv1.Equivalent {
				t.Errorf("matchPolicy %v, want Equivalent", w.matchPolicy)
			}
			if w.timeoutSeconds == nil || *w.timeoutSeconds < 1 || *w.timeoutSeconds > 30 {
				t.Errorf("timeoutSeconds %v, want 1 to 30", w.timeoutSeconds)
			}
			if !slices.Equal(w.admissionReviewVersions, []string{"v1"}) {
				t.Errorf("admissionReviewVersions %v, want [v1]", w.admissionReviewVersions)
			}
		})
	}
}

func TestWebhooksFailClosed(t *testing.T) {
	hooks := loadWebhooks(t)
	for _, name := range failClosed {
		t.Run(name, func(t *testing.T) {
			w := hooks[name]
			if w.failurePolicy == nil || *w.failurePolicy != admissionv1.Fail {
				t.Errorf("failurePolicy %v, want Fail", w.failurePolicy)
			}
			// Whoever creates a pod controls its labels.
			if w.objectSelector != nil && (len(w.objectSelector.MatchLabels) > 0 || len(w.objectSelector.MatchExpressions) > 0) {
				t.Errorf("objectSelector %v lets a pod opt out", w.objectSelector)
			}
			if err := exemptsOnlySystemNamespaces(w.namespaceSelector); err != nil {
				t.Error(err)
			}
		})
	}
	if p := hooks["policies.validate.gatehouse.dev"].failurePolicy; p == nil || *p != admissionv1.Ignore {
		t.Errorf("policies webhook failurePolicy %v, want Ignore", p)
	}
}

// exemptsOnlySystemNamespaces checks that the selector matches every namespace
// but kube-system and gatehouse's own, whatever labels a namespace carries.
func exemptsOnlySystemNamespaces(sel *metav1.LabelSelector) error {
	if sel == nil || len(sel.MatchLabels) > 0 {
		return fmt.Errorf("namespaceSelector %v, want only matchExpressions", sel)
	}
	var excluded []string
	for _, e := range sel.MatchExpressions {
		if e.Key != corev1.LabelMetadataName || e.Operator != metav1.LabelSelectorOpNotIn {
			return fmt.Errorf("namespaceSelector uses %s %s; only %s NotIn is immutable", e.Key, e.Operator, corev1.LabelMetadataName)
		}
		excluded = append(excluded, e.Values...)
	}
	for _, ns := range []string{"kube-system", namespace} {
		if !slices.Contains(excluded, ns) {
			return fmt.Errorf("namespaceSelector does not exempt %s", ns)
		}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return err
	}
	for _, ns := range []string{"default", "team-a", "kube-public"} {
		set := labels.Set{corev1.LabelMetadataName: ns, "gatehouse.dev/exempt": "true"}
		if !s.Matches(set) {
			return fmt.Errorf("namespaceSelector exempts %s", ns)
		}
	}
	return nil
}

func TestWebhookRules(t *testing.T) {
	type request struct{ group, version, resource, op string }
	podRequests := []request{
		{"", "v1", "pods", "CREATE"},
		{"", "v1", "pods", "UPDATE"},
		{"", "v1", "pods/ephemeralcontainers", "UPDATE"},
	}
	var workloadRequests []request
	for _, gr := range []string{"apps/v1/deployments", "apps/v1/replicasets", "apps/v1/statefulsets", "apps/v1/daemonsets",
		"batch/v1/jobs", "batch/v1/cronjobs", "/v1/replicationcontrollers"} {
		parts := strings.SplitN(gr, "/", 3)
		for _, op := range []string{"CREATE", "UPDATE"} {
			workloadRequests = append(workloadRequests, request{parts[0], parts[1], parts[2], op})
		}
	}
	var policyRequests []request
	for _, res := range []string{"clusterimagepolicies", "imagepolicies"} {
		for _, op := range []string{"CREATE", "UPDATE"} {
			policyRequests = append(policyRequests, request{"gatehouse.dev", "v1alpha1", res, op})
		}
	}
	coverage := map[string][]request{
		"pods.validate.gatehouse.dev":      podRequests,
		"pods.mutate.gatehouse.dev":        podRequests,
		"workloads.validate.gatehouse.dev": workloadRequests,
		"policies.validate.gatehouse.dev":  policyRequests,
	}
	hooks := loadWebhooks(t)
	for name, reqs := range coverage {
		for _, r := range reqs {
			group := cmp.Or(r.group, "core")
			t.Run(fmt.Sprintf("%s/%s %s/%s", name, r.op, group, r.resource), func(t *testing.T) {
				if !covers(hooks[name].rules, r.group, r.version, r.resource, r.op) {
					t.Error("not covered")
				}
			})
		}
	}
}

// covers reports whether rules match a request, as the API server matches them.
func covers(rules []admissionv1.RuleWithOperations, group, version, resource, op string) bool {
	res, sub, _ := strings.Cut(resource, "/")
	return slices.ContainsFunc(rules, func(r admissionv1.RuleWithOperations) bool {
		ops := make([]string, len(r.Operations))
		for i, o := range r.Operations {
			ops[i] = string(o)
		}
		return matchAny(r.APIGroups, group) && matchAny(r.APIVersions, version) && matchAny(ops, op) &&
			slices.ContainsFunc(r.Resources, func(pattern string) bool {
				pres, psub, _ := strings.Cut(pattern, "/")
				return (pres == "*" || pres == res) && (psub == sub || psub == "*" && sub != "")
			})
	})
}

func matchAny(patterns []string, s string) bool {
	return slices.Contains(patterns, "*") || slices.Contains(patterns, s)
}
