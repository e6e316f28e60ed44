package manifests

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// gatehouse is the Deployment and its one container.
type gatehouse struct {
	dep *appsv1.Deployment
	c   *corev1.Container
}

func loadDeployment(t *testing.T) gatehouse {
	t.Helper()
	dep := decodeOne[appsv1.Deployment](t, loadDocuments(t), "Deployment")
	if n := len(dep.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("want one container, found %d", n)
	}
	return gatehouse{dep: &dep, c: &dep.Spec.Template.Spec.Containers[0]}
}

// flag returns the value of --name=value in the container's args.
func (g gatehouse) flag(name string) string {
	for _, a := range g.c.Args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// hasFlag returns an error unless the args hold --name=value.
func (g gatehouse) hasFlag(name, value string) error {
	return want(g.flag(name) == value, "--%s=%q, want %q", name, g.flag(name), value)
}

// port resolves a named or numbered container port.
func (g gatehouse) port(p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range g.c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// listenPort is the port of a --flag=:port argument.
func (g gatehouse) listenPort(flag string) int32 {
	_, port, _ := strings.Cut(g.flag(flag), ":")
	n, _ := strconv.Atoi(port)
	return int32(n)
}

// runAsNonRoot is the container's setting, else the pod's.
func (g gatehouse) runAsNonRoot() bool {
	if sc := g.c.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		return *sc.RunAsNonRoot
	}
	psc := g.dep.Spec.Template.Spec.SecurityContext
	return psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
}

func (g gatehouse) seccompType() corev1.SeccompProfileType {
	if sc := g.c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		return sc.SeccompProfile.Type
	}
	if psc := g.dep.Spec.Template.Spec.SecurityContext; psc != nil && psc.SeccompProfile != nil {
		return psc.SeccompProfile.Type
	}
	return ""
}

func (g gatehouse) probe(p *corev1.Probe, path, flag string) error {
	switch {
	case p == nil || p.HTTPGet == nil:
		return fmt.Errorf("no httpGet probe")
	case p.HTTPGet.Path != path:
		return fmt.Errorf("path %q, want %q", p.HTTPGet.Path, path)
	case g.port(p.HTTPGet.Port) != g.listenPort(flag):
		return fmt.Errorf("port %v is not --%s", p.HTTPGet.Port.String(), flag)
	}
	return nil
}

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }

func TestDeployment(t *testing.T) {
	g := loadDeployment(t)
	pod := g.dep.Spec.Template.Spec
	sc := g.c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	caps := sc.Capabilities
	if caps == nil {
		caps = &corev1.Capabilities{}
	}
	requests, limits := g.c.Resources.Requests, g.c.Resources.Limits
	replicas := g.dep.Spec.Replicas
	hosts := strings.Split(g.flag("cert-hosts"), ",")
	tests := []struct {
		name string
		err  error
	}{
		{"three replicas", want(replicas != nil && *replicas == 3, "replicas %v", replicas)},
		{"namespace", want(g.dep.Namespace == namespace, "namespace %q", g.dep.Namespace)},
		{"service account", want(pod.ServiceAccountName == "gatehouse", "serviceAccountName %q", pod.ServiceAccountName)},
		{"selector matches pod labels", selects(g.dep.Spec.Selector, g.dep.Spec.Template.Labels)},
		{"runAsNonRoot", want(g.runAsNonRoot(), "may run as root")},
		{"readOnlyRootFilesystem", want(isTrue(sc.ReadOnlyRootFilesystem), "root filesystem writable")},
		{"no privilege escalation", want(isFalse(sc.AllowPrivilegeEscalation), "allowPrivilegeEscalation not false")},
		{"drops ALL capabilities", want(slices.Equal(caps.Drop, []corev1.Capability{"ALL"}) && caps.Add == nil, "capabilities %v", caps)},
		{"seccomp RuntimeDefault", want(g.seccompType() == corev1.SeccompProfileTypeRuntimeDefault, "seccomp %q", g.seccompType())},
		{"readiness probe", g.probe(g.c.ReadinessProbe, "/readyz", "probe-listen")},
		{"liveness probe", g.probe(g.c.LivenessProbe, "/healthz", "probe-listen")},
		{"startup probe", g.probe(g.c.StartupProbe, "/healthz", "probe-listen")},
		{"https port is --listen", want(g.port(intstr.FromString("https")) == g.listenPort("listen"), "https is not --listen")},
		{"resource requests", want(!requests.Cpu().IsZero() && !requests.Memory().IsZero(), "requests %v", requests)},
		{"memory limit", want(!limits.Memory().IsZero(), "no memory limit")},
		{"no CPU limit", want(limits.Cpu().IsZero(), "CPU limit %v throttles admission", limits.Cpu())},
		{"GOMEMLIMIT from the memory limit", g.goMemLimit()},
		{"writable /tmp", g.emptyDirAt("/tmp")},
		{"webhook configuration name", g.hasFlag("webhook-config-name", "gatehouse")},
		{"CA secret in own namespace", g.hasFlag("ca-secret", namespace+"/"+caSecret)},
		{"certificate names the Service", want(slices.Contains(hosts, "gatehouse."+namespace+".svc"), "--cert-hosts=%q", hosts)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err != nil {
				t.Error(tt.err)
			}
		})
	}
}

func (g gatehouse) goMemLimit() error {
	for _, e := range g.c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		ref := e.ValueFrom
		if ref == nil || ref.ResourceFieldRef == nil || ref.ResourceFieldRef.Resource != "limits.memory" {
			return fmt.Errorf("GOMEMLIMIT is not from limits.memory")
		}
		if d := ref.ResourceFieldRef.Divisor; !d.IsZero() && d.Cmp(resource.MustParse("1")) != 0 {
			return fmt.Errorf("GOMEMLIMIT divisor %v, want bytes", d.String())
		}
		return nil
	}
	return fmt.Errorf("no GOMEMLIMIT")
}

func (g gatehouse) emptyDirAt(dir string) error {
	for _, m := range g.c.VolumeMounts {
		if m.MountPath != dir {
			continue
		}
		for _, v := range g.dep.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.EmptyDir != nil {
				return nil
			}
		}
	}
	return fmt.Errorf("no emptyDir at %s", dir)
}

func want(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

func selects(sel *metav1.LabelSelector, podLabels map[string]string) error {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return err
	}
	if s.Empty() || !s.Matches(labels.Set(podLabels)) {
		return fmt.Errorf("selector %v does not select pod labels %v", s, podLabels)
	}
	return nil
}

func TestPodsAreSelected(t *testing.T) {
	docs := loadDocuments(t)
	g := loadDeployment(t)
	podLabels := g.dep.Spec.Template.Labels
	svc := decodeOne[corev1.Service](t, docs, "Service")
	pdb := decodeOne[policyv1.PodDisruptionBudget](t, docs, "PodDisruptionBudget")
	minAvail := pdb.Spec.MinAvailable
	tests := []struct {
		name string
		err  error
	}{
		{"service namespace", want(svc.Namespace == namespace, "namespace %q", svc.Namespace)},
		{"service selects the pods", selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, podLabels)},
		{"service 443 reaches --listen", g.servicePort(svc, "https", 443, "listen")},
		{"service 8080 reaches --probe-listen", g.servicePort(svc, "http-metrics", 8080, "probe-listen")},
		{"pdb namespace", want(pdb.Namespace == namespace, "namespace %q", pdb.Namespace)},
		{"pdb selects the pods", selects(pdb.Spec.Selector, podLabels)},
		{"pdb keeps two of three", want(minAvail != nil && *minAvail == intstr.FromInt32(2), "minAvailable %v", minAvail)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err != nil {
				t.Error(tt.err)
			}
		})
	}
}

func (g gatehouse) servicePort(svc corev1.Service, name string, port int32, flag string) error {
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return want(p.Port == port && g.port(p.TargetPort) == g.listenPort(flag),
				"port %s: %d -> %v, want %d -> --%s=%s", name, p.Port, p.TargetPort.String(), port, flag, g.flag(flag))
		}
	}
	return fmt.Errorf("no port %s", name)
}
