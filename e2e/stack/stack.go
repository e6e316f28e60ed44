// Package stack brings up everything gatehouse runs against, for real, on
// loopback: etcd, kube-apiserver, an OCI registry, gatehouse's CRDs and
// webhook configurations (the shipped YAML, pointed at a local URL), and the
// gatehouse binary itself, plus cosign and notation to sign images. The e2e
// tests and the demo both stand on it.
package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"gatehouse.dev/gatehouse/e2e/env"
)

// Namespaces the stack uses.
const (
	SystemNamespace = "gatehouse-system"
	AppNamespace    = "e2e"
)

// Options configure Start.
type Options struct {
	Dir          string    // work dir: logs, keys, registry storage
	Tools        env.Tools // from env.FindTools
	GatehouseBin string    // the gatehouse binary
	// ExtraArgs are appended to `gatehouse serve`.
	ExtraArgs []string
}

// Stack is a running control plane with gatehouse admitting its pods.
type Stack struct {
	Env       *env.Env
	API       *env.APIServer
	Client    kubernetes.Interface
	Dynamic   dynamic.Interface
	Registry  string // host:port of the OCI registry without the referrers API (docker-registry)
	Zot       string // host:port of the OCI registry with the referrers API (zot)
	Gatehouse *env.Proc
	ProbeURL  string    // http://127.0.0.1:port of /healthz, /readyz, /metrics
	Cosign    *Cosign   // cosign v2: legacy .sig signatures
	Cosign3   *Cosign   // cosign v3: sigstore bundles as referrers
	Notation  *Notation // notation: Notary Project signatures (JWS or COSE)
	opts      Options
}

// Start brings the stack up and returns once gatehouse is deciding pods.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	s := &Stack{Env: env.New(o.Dir, o.Tools), opts: o}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	etcd, err := s.Env.StartEtcd(ctx)
	if err != nil {
		return nil, err
	}
	if s.API, err = s.Env.StartAPIServer(ctx, etcd); err != nil {
		return nil, err
	}
	s.Client = s.API.Client
	if s.Dynamic, err = dynamic.NewForConfig(s.API.Config); err != nil {
		return nil, err
	}
	if s.Registry, err = s.Env.StartRegistry(ctx); err != nil {
		return nil, err
	}
	if s.Zot, err = s.Env.StartZot(ctx); err != nil {
		return nil, err
	}
	if s.Cosign, err = NewCosign(ctx, o.Tools.Cosign, filepath.Join(o.Dir, "cosign")); err != nil {
		return nil, err
	}
	if s.Cosign3, err = NewCosign(ctx, o.Tools.Cosign3, filepath.Join(o.Dir, "cosign3")); err != nil {
		return nil, err
	}
	if s.Notation, err = NewNotation(ctx, o.Tools.Notation, filepath.Join(o.Dir, "notation")); err != nil {
		return nil, err
	}
	if err := s.install(ctx); err != nil {
		return nil, err
	}
	if err := s.StartGatehouse(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stack) install(ctx context.Context) error {
	for _, ns := range []string{SystemNamespace, AppNamespace} {
		if err := s.API.EnsureNamespace(ctx, ns); err != nil {
			return err
		}
	}
	if err := InstallCRDs(ctx, s.Dynamic); err != nil {
		return err
	}
	return s.installWebhooks(ctx)
}

// StartGatehouse starts gatehouse and waits until the API server sends it
// pods: a dry-run marker pod is denied by gatehouse.
func (s *Stack) StartGatehouse(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	s.ProbeURL = "http://127.0.0.1:" + strconv.Itoa(ports[1])
	args := append([]string{"serve",
		"--listen=127.0.0.1:" + strconv.Itoa(ports[0]),
		"--probe-listen=127.0.0.1:" + strconv.Itoa(ports[1]),
		"--kubeconfig=" + s.API.Kubeconfig,
		"--tls-mode=self-managed",
		"--ca-secret=" + SystemNamespace + "/gatehouse-ca",
		"--cert-hosts=127.0.0.1",
		"--webhook-config-name=gatehouse",
	}, s.opts.ExtraArgs...)
	if err := s.pointWebhooksAt("https://127.0.0.1:" + strconv.Itoa(ports[0])); err != nil {
		return err
	}
	s.Gatehouse, err = s.Env.Start(ctx, "gatehouse", env.HTTPOK(s.ProbeURL+"/readyz"), s.opts.GatehouseBin, args...)
	if err != nil {
		return err
	}
	return env.WaitFor(ctx, "gatehouse deciding pods", s.markerDenied)
}

// markerDenied creates a dry-run pod whose image no policy covers; gatehouse
// denies it once the API server reaches it over TLS.
func (s *Stack) markerDenied(ctx context.Context) error {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "marker-", Namespace: AppNamespace},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "m", Image: s.Registry + "/gatehouse-marker/none:v1"}}},
	}
	_, err := s.Client.CoreV1().Pods(AppNamespace).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil && strings.Contains(err.Error(), "gatehouse denied") {
		return nil
	}
	return fmt.Errorf("marker pod not denied by gatehouse yet: %v", err)
}

// StopGatehouse stops the gatehouse process.
func (s *Stack) StopGatehouse() error {
	if s.Gatehouse == nil {
		return nil
	}
	err := s.Gatehouse.Stop()
	s.Gatehouse = nil
	return err
}

// Close stops everything.
func (s *Stack) Close() error {
	return s.Env.Close()
}

// WaitPolicy waits until gatehouse has loaded the named ClusterImagePolicy:
// a dry-run pod with image is no longer denied as unmatched.
func (s *Stack) WaitPolicy(ctx context.Context, image string) error {
	return env.WaitFor(ctx, "policy for "+image+" loaded", func(ctx context.Context) error {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "policy-marker-", Namespace: AppNamespace},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "m", Image: image}}},
		}
		_, err := s.Client.CoreV1().Pods(AppNamespace).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "unmatched-image") {
			return err
		}
		return nil
	})
}

func freePorts(n int) ([]int, error) {
	var out []int
	for len(out) < n {
		p, err := env.FreePort()
		if err != nil {
			return nil, err
		}
		if len(out) == 0 || out[0] != p {
			out = append(out, p)
		}
	}
	return out, nil
}

// Cosign runs the real cosign CLI with a key pair it generated.
type Cosign struct {
	bin, dir  string
	v3        bool
	PublicKey string // PEM
}

// NewCosign generates a key pair with `cosign generate-key-pair`.
func NewCosign(ctx context.Context, bin, dir string) (*Cosign, error) {
	if bin == "" {
		return nil, errors.New("cosign not found: run make tools")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cosign{bin: bin, dir: dir}
	out, err := c.run(ctx, "version")
	if err != nil {
		return nil, err
	}
	c.v3 = strings.Contains(string(out), "GitVersion:    v3.")
	if _, err := c.run(ctx, "generate-key-pair"); err != nil {
		return nil, err
	}
	pub, err := os.ReadFile(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		return nil, err
	}
	c.PublicKey = string(pub)
	return c, nil
}

// Sign signs ref (repo@digest) with the key, offline: no transparency log.
// extra flags go to cosign sign, e.g. --new-bundle-format=false for cosign
// v3's legacy format.
func (c *Cosign) Sign(ctx context.Context, ref string, extra ...string) error {
	args := []string{"sign", "--key", filepath.Join(c.dir, "cosign.key"), "--tlog-upload=false",
		"--allow-http-registry", "--allow-insecure-registry", "--yes"}
	if c.v3 {
		args = append(args, "--use-signing-config=false") // else --tlog-upload=false is refused
	}
	_, err := c.run(ctx, append(append(args, extra...), ref)...)
	return err
}

// Attest attests ref (repo@digest) with the key, offline: cosign attest
// --type typ --predicate file, no transparency log. cosign v2 writes the
// sha256-<hex>.att tag; v3 a sigstore bundle referrer.
func (c *Cosign) Attest(ctx context.Context, ref, typ, predicate string, extra ...string) error {
	args := []string{"attest", "--key", filepath.Join(c.dir, "cosign.key"), "--type", typ, "--predicate", predicate,
		"--tlog-upload=false", "--allow-http-registry", "--allow-insecure-registry", "--yes"}
	if c.v3 {
		args = append(args, "--use-signing-config=false")
	}
	_, err := c.run(ctx, append(append(args, extra...), ref)...)
	return err
}

func (c *Cosign) run(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "HOME="+c.dir, "TUF_ROOT="+filepath.Join(c.dir, "tuf"), "SIGSTORE_NO_CACHE=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out, nil
}
