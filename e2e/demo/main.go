// Command demo shows gatehouse's main job end to end on this machine: it
// starts etcd, a kube-apiserver, an OCI registry and gatehouse, signs one
// image with cosign, leaves another unsigned, loads an embedded default
// policy, and asks the API server to run both. Run it with `make demo`.
package main

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/e2e/env"
	"gatehouse.dev/gatehouse/e2e/stack"
	"gatehouse.dev/gatehouse/policy"
)

//go:embed policy.yaml
var defaultPolicy string

func main() {
	bin := flag.String("gatehouse", "bin/gatehouse", "the gatehouse binary")
	keep := flag.Bool("keep", false, "keep everything running until interrupted, to explore with kubectl")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *bin, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, keep bool) error {
	tools, err := env.FindTools()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gatehouse-demo-")
	if err != nil {
		return err
	}
	step("starting etcd, kube-apiserver, an OCI registry and gatehouse (work dir %s)", dir)
	setup, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	s, err := stack.Start(setup, stack.Options{Dir: dir, Tools: tools, GatehouseBin: bin})
	if err != nil {
		return err
	}
	defer s.Close()
	signed, unsigned, err := images(setup, s)
	if err != nil {
		return err
	}
	if err := applyPolicy(setup, s); err != nil {
		return err
	}
	denied, admitted := tryPods(setup, s, signed, unsigned)
	showStatus(setup, s)
	showMetrics(s)
	if keep {
		step("still running; kubeconfig: %s  (Ctrl-C to stop)", s.API.Kubeconfig)
		<-ctx.Done()
	}
	if !denied || !admitted {
		return errors.New("the demo did not show a deny and an allow; see the logs in " + dir)
	}
	os.RemoveAll(dir)
	return nil
}

func images(ctx context.Context, s *stack.Stack) (signed, unsigned string, err error) {
	signed, digest, err := s.PushImage(ctx, "demo/hello:v1")
	if err != nil {
		return "", "", err
	}
	step("signing %s@%s with cosign (key pair made by cosign generate-key-pair)", signed, short(digest))
	if err := s.Cosign.Sign(ctx, s.Registry+"/demo/hello@"+digest); err != nil {
		return "", "", err
	}
	if unsigned, _, err = s.PushImage(ctx, "demo/unsigned:v1"); err != nil {
		return "", "", err
	}
	step("pushed %s without a signature", unsigned)
	return signed, unsigned, nil
}

func applyPolicy(ctx context.Context, s *stack.Stack) error {
	var key strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s.Cosign.PublicKey))
	for sc.Scan() {
		key.WriteString("          " + sc.Text() + "\n")
	}
	doc := strings.Replace(strings.ReplaceAll(defaultPolicy, "REGISTRY", s.Registry), "KEY\n", key.String(), 1)
	var obj unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		return fmt.Errorf("embedded policy: %w", err)
	}
	step("applying the default ClusterImagePolicy %q: images under %s/demo/ must be signed by the demo key", obj.GetName(), s.Registry)
	if err := s.CreateClusterPolicy(ctx, &obj); err != nil {
		return err
	}
	return s.WaitPolicy(ctx, s.Registry+"/demo/unsigned:v1")
}

func tryPods(ctx context.Context, s *stack.Stack, signed, unsigned string) (denied, admitted bool) {
	pods := s.Client.CoreV1().Pods(stack.AppNamespace)
	step("kubectl run unsigned --image=%s", unsigned)
	_, err := pods.Create(ctx, pod("unsigned", unsigned), metav1.CreateOptions{})
	if err != nil {
		fmt.Printf("\n    DENIED  %v\n\n", err)
		denied = strings.Contains(err.Error(), "gatehouse denied")
	} else {
		fmt.Println("\n    ADMITTED (unexpected)")
	}
	step("kubectl run hello --image=%s", signed)
	p, err := pods.Create(ctx, pod("hello", signed), metav1.CreateOptions{})
	if err != nil {
		fmt.Printf("\n    DENIED (unexpected)  %v\n\n", err)
		return denied, false
	}
	fmt.Printf("\n    ADMITTED  pod %s/%s, image pinned to the verified digest:\n              %s\n\n", p.Namespace, p.Name, p.Spec.Containers[0].Image)
	return denied, true
}

func pod(name, image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: stack.AppNamespace},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: image}}},
	}
}

// showStatus prints what gatehouse wrote into the policy's status, as
// kubectl get cip would show it.
func showStatus(ctx context.Context, s *stack.Stack) {
	step("kubectl get clusterimagepolicy demo-signed  (the status gatehouse writes)")
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		u, err := s.Dynamic.Resource(policy.ClusterImagePolicies).Get(ctx, "demo-signed", metav1.GetOptions{})
		if err != nil {
			return
		}
		conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conditions {
			if m, ok := c.(map[string]any); ok && m["type"] == "Ready" {
				fmt.Printf("\n    Ready=%v (%v): %v\n\n", m["status"], m["reason"], m["message"])
				return
			}
		}
	}
	fmt.Println("\n    no status yet")
}

func showMetrics(s *stack.Stack) {
	resp, err := http.Get(s.ProbeURL + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	step("gatehouse's decision metrics (%s/metrics):", s.ProbeURL)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "gatehouse_admission_decisions_total{") && strings.Contains(sc.Text(), `kind="Pod"`) {
			fmt.Println("    " + sc.Text())
		}
	}
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19] + "..."
	}
	return digest
}
