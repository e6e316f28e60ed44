package manifests

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// caSecret is the Secret that holds the self-managed serving CA.
const caSecret = "gatehouse-ca"

// grants are the rules bound to gatehouse's ServiceAccount: cluster-wide, and
// in gatehouse's own namespace only.
type grants struct {
	cluster, namespaced []rbacv1.PolicyRule
}

func loadGrants(t *testing.T) grants {
	t.Helper()
	docs := loadDocuments(t)
	sa := decodeOne[corev1.ServiceAccount](t, docs, "ServiceAccount")
	if sa.Name != "gatehouse" || sa.Namespace != namespace {
		t.Fatalf("ServiceAccount %s/%s, want %s/gatehouse", sa.Namespace, sa.Name, namespace)
	}
	clusterRoles := map[string][]rbacv1.PolicyRule{}
	for _, r := range decodeAll[rbacv1.ClusterRole](t, docs, "ClusterRole") {
		clusterRoles[r.Name] = r.Rules
	}
	roles := map[string][]rbacv1.PolicyRule{}
	for _, r := range decodeAll[rbacv1.Role](t, docs, "Role") {
		roles[r.Namespace+"/"+r.Name] = r.Rules
	}
	var g grants
	for _, b := range decodeAll[rbacv1.ClusterRoleBinding](t, docs, "ClusterRoleBinding") {
		if bindsGatehouse(b.Subjects) {
			g.cluster = append(g.cluster, resolve(t, b.RoleRef, clusterRoles, roles, "")...)
		}
	}
	for _, b := range decodeAll[rbacv1.RoleBinding](t, docs, "RoleBinding") {
		if b.Namespace != namespace {
			t.Errorf("RoleBinding %s/%s outside %s", b.Namespace, b.Name, namespace)
		}
		if bindsGatehouse(b.Subjects) {
			g.namespaced = append(g.namespaced, resolve(t, b.RoleRef, clusterRoles, roles, b.Namespace)...)
		}
	}
	return g
}

func bindsGatehouse(subjects []rbacv1.Subject) bool {
	return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
		return s.Kind == rbacv1.ServiceAccountKind && s.Name == "gatehouse" && s.Namespace == namespace
	})
}

// resolve returns the rules of the role a binding in namespace ns refers to.
func resolve(t *testing.T, ref rbacv1.RoleRef, clusterRoles, roles map[string][]rbacv1.PolicyRule, ns string,
) []rbacv1.PolicyRule {
	t.Helper()
	rules, ok := clusterRoles[ref.Name]
	if ref.Kind == "Role" {
		rules, ok = roles[ns+"/"+ref.Name]
	}
	if !ok || ref.APIGroup != rbacv1.GroupName {
		t.Fatalf("binding refers to a missing %s %q", ref.Kind, ref.Name)
	}
	return rules
}

// allows reports whether rules allow a request, as the RBAC authorizer
// decides it. An empty name is a request without one (list, watch, create).
func allows(rules []rbacv1.PolicyRule, verb, group, resource, name string) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
		return matchAny(r.Verbs, verb) && matchAny(r.APIGroups, group) && matchAny(r.Resources, resource) &&
			(len(r.ResourceNames) == 0 || name != "" && slices.Contains(r.ResourceNames, name))
	})
}

func TestRBACRulesAreNarrow(t *testing.T) {
	docs := loadDocuments(t)
	rules := map[string][]rbacv1.PolicyRule{}
	for _, r := range decodeAll[rbacv1.ClusterRole](t, docs, "ClusterRole") {
		rules["ClusterRole "+r.Name] = r.Rules
	}
	for _, r := range decodeAll[rbacv1.Role](t, docs, "Role") {
		rules["Role "+r.Name] = r.Rules
	}
	for role, rs := range rules {
		for i, r := range rs {
			t.Run(fmt.Sprintf("%s rule %d", role, i), func(t *testing.T) {
				for _, list := range [][]string{r.Verbs, r.APIGroups, r.Resources, r.ResourceNames} {
					if slices.Contains(list, "*") {
						t.Errorf("wildcard in %v", list)
					}
				}
				if len(r.NonResourceURLs) > 0 {
					t.Errorf("nonResourceURLs %v", r.NonResourceURLs)
				}
				if slices.Contains(r.Resources, "secrets") {
					for _, verb := range []string{"list", "watch", "deletecollection"} {
						if slices.Contains(r.Verbs, verb) {
							t.Errorf("%s on secrets would expose every secret", verb)
						}
					}
				}
			})
		}
	}
}

func TestRBACGrants(t *testing.T) {
	g := loadGrants(t)
	const admission = "admissionregistration.k8s.io"
	tests := []struct {
		name                  string
		cluster               bool // cluster-wide, else in gatehouse's namespace
		verb, group, res, obj string
		want                  bool
	}{
		{"list cluster policies", true, "list", "gatehouse.dev", "clusterimagepolicies", "", true},
		{"watch namespaced policies", true, "watch", "gatehouse.dev", "imagepolicies", "", true},
		{"get a pull secret", true, "get", "", "secrets", "pull", true},
		{"get a service account", true, "get", "", "serviceaccounts", "default", true},
		{"get a trusted root ConfigMap", true, "get", "", "configmaps", "sigstore-trusted-root", true},
		{"no list of ConfigMaps", true, "list", "", "configmaps", "", false},
		{"no watch of ConfigMaps", true, "watch", "", "configmaps", "", false},
		{"no ConfigMap writes", true, "update", "", "configmaps", "sigstore-trusted-root", false},
		{"patch own validating config", true, "patch", admission, "validatingwebhookconfigurations", "gatehouse", true},
		{"update own mutating config", true, "update", admission, "mutatingwebhookconfigurations", "gatehouse", true},
		{"create events of denials", true, "create", "", "events", "", true},
		{"no event updates", true, "update", "", "events", "x", false},
		{"no event deletion", true, "delete", "", "events", "x", false},
		{"no listing events", true, "list", "", "events", "", false},
		{"no events.k8s.io events", true, "create", "events.k8s.io", "events", "", false},
		{"create the CA secret", false, "create", "", "secrets", "", true},
		{"update the CA secret", false, "update", "", "secrets", caSecret, true},
		{"no list of secrets", true, "list", "", "secrets", "", false},
		{"no watch of secrets", false, "watch", "", "secrets", "", false},
		{"no secret creation elsewhere", true, "create", "", "secrets", "", false},
		{"no update of other secrets", false, "update", "", "secrets", "other", false},
		{"no deleting the CA secret", false, "delete", "", "secrets", caSecret, false},
		{"no patching other webhook configs", true, "patch", admission, "validatingwebhookconfigurations", "other", false},
		{"no deleting own webhook config", true, "delete", admission, "validatingwebhookconfigurations", "gatehouse", false},
		{"no policy writes", true, "update", "gatehouse.dev", "clusterimagepolicies", "p", false},
		{"no policy patches", true, "patch", "gatehouse.dev", "imagepolicies", "p", false},
		{"update a cluster policy's status", true, "update", "gatehouse.dev", "clusterimagepolicies/status", "p", true},
		{"update a namespaced policy's status", true, "update", "gatehouse.dev", "imagepolicies/status", "p", true},
		{"no policy deletion", true, "delete", "gatehouse.dev", "clusterimagepolicies", "p", false},
		{"no pod creation", false, "create", "", "pods", "", false},
		{"create the leader lease", false, "create", "coordination.k8s.io", "leases", "", true},
		{"renew the leader lease", false, "update", "coordination.k8s.io", "leases", "gatehouse-leader", true},
		{"no other lease", false, "update", "coordination.k8s.io", "leases", "kube-scheduler", false},
		{"no lease elsewhere", true, "create", "coordination.k8s.io", "leases", "", false},
		{"list pods to revalidate them", true, "list", "", "pods", "", true},
		{"no pod eviction", true, "create", "", "pods/eviction", "x", false},
		{"no pod deletion", true, "delete", "", "pods", "x", false},
		{"no impersonation", true, "impersonate", "", "serviceaccounts", "default", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := g.cluster
			if !tt.cluster {
				rules = append(slices.Clip(g.cluster), g.namespaced...)
			}
			if got := allows(rules, tt.verb, tt.group, tt.res, tt.obj); got != tt.want {
				t.Errorf("%s %s/%s %q allowed = %v, want %v", tt.verb, tt.group, tt.res, tt.obj, got, tt.want)
			}
		})
	}
}
