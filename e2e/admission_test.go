package e2e

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/e2e/stack"
)

func newPod(name string, images ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: stack.AppNamespace}}
	for i, im := range images {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "c" + string(rune('a'+i)), Image: im})
	}
	return p
}

func createPod(ctx context.Context, p *corev1.Pod, dryRun bool) (*corev1.Pod, error) {
	opts := metav1.CreateOptions{}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return suite.Client.CoreV1().Pods(stack.AppNamespace).Create(ctx, p, opts)
}

// wantDenied checks that err is gatehouse's denial, relayed by the API
// server, and that its message says each of want.
func wantDenied(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("admitted, want denied")
	}
	if !strings.Contains(err.Error(), "gatehouse denied") {
		t.Fatalf("denied, but not by gatehouse: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message lacks %q:\n%v", w, err)
		}
	}
}

func TestUnsignedPodIsDenied(t *testing.T) {
	ctx := need(t)
	_, err := createPod(ctx, newPod("unsigned", suite.unsigned), false)
	wantDenied(t, err, `image "`+suite.unsigned+`"`, "unsigned", "ClusterImagePolicy/e2e", "cosign sign")
}

func TestSignedPodIsAdmittedAndPinned(t *testing.T) {
	ctx := need(t)
	p, err := createPod(ctx, newPod("signed", suite.signed), false)
	if err != nil {
		t.Fatalf("signed pod denied: %v", err)
	}
	want := suite.signed + "@" + suite.signedDigest
	if got := p.Spec.Containers[0].Image; got != want {
		t.Fatalf("image %q, want it pinned to %q", got, want)
	}
}

func TestDryRunGetsTheSameVerdict(t *testing.T) {
	ctx := need(t)
	_, err := createPod(ctx, newPod("dry-unsigned", suite.unsigned), true)
	wantDenied(t, err, "unsigned")
	p, err := createPod(ctx, newPod("dry-signed", suite.signed), true)
	if err != nil {
		t.Fatalf("signed dry run denied: %v", err)
	}
	if !strings.HasSuffix(p.Spec.Containers[0].Image, "@"+suite.signedDigest) {
		t.Errorf("dry run not pinned: %s", p.Spec.Containers[0].Image)
	}
	if _, err := suite.Client.CoreV1().Pods(stack.AppNamespace).Get(ctx, "dry-signed", metav1.GetOptions{}); err == nil {
		t.Error("dry run persisted the pod")
	}
}

func TestUnsignedInitContainerIsDenied(t *testing.T) {
	ctx := need(t)
	p := newPod("init", suite.signed)
	p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: suite.unsigned}}
	_, err := createPod(ctx, p, false)
	wantDenied(t, err, `initContainers "setup"`, "unsigned")
}

func TestDeploymentWithAnUnsignedContainerIsDenied(t *testing.T) {
	ctx := need(t)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: stack.AppNamespace},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: newPod("", suite.signed, suite.unsigned).Spec},
		},
	}
	_, err := suite.Client.AppsV1().Deployments(stack.AppNamespace).Create(ctx, d, metav1.CreateOptions{})
	wantDenied(t, err, "Deployment "+stack.AppNamespace+"/web", suite.unsigned)
}

// kubectl debug adds an ephemeral container through the
// pods/ephemeralcontainers subresource.
func TestEphemeralContainers(t *testing.T) {
	ctx := need(t)
	p, err := createPod(ctx, newPod("debug-target", suite.signed), false)
	if err != nil {
		t.Fatal(err)
	}
	add := func(image string) error {
		cur, err := suite.Client.CoreV1().Pods(stack.AppNamespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.EphemeralContainers = append(cur.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-" + string(rune('a'+len(cur.Spec.EphemeralContainers))), Image: image}})
		_, err = suite.Client.CoreV1().Pods(stack.AppNamespace).UpdateEphemeralContainers(ctx, p.Name, cur, metav1.UpdateOptions{})
		return err
	}
	wantDenied(t, add(suite.unsigned), "ephemeralContainers", "unsigned")
	if err := add(suite.signed + "@" + suite.signedDigest); err != nil {
		t.Fatalf("signed ephemeral container denied: %v", err)
	}
}

func TestUpdateSwappingInAnUnsignedImageIsDenied(t *testing.T) {
	ctx := need(t)
	p, err := createPod(ctx, newPod("swap", suite.signed), false)
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Containers[0].Image = suite.unsigned
	_, err = suite.Client.CoreV1().Pods(stack.AppNamespace).Update(ctx, p, metav1.UpdateOptions{})
	wantDenied(t, err, "unsigned")
}
