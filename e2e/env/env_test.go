package env_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/e2e/env"
)

func TestEnv(t *testing.T) {
	tools := env.RequireTools(t, env.ToolEtcd, env.ToolKubeAPIServer, env.ToolRegistry)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := env.New(t.TempDir(), tools)
	t.Cleanup(func() { e.Close() })

	start := time.Now()
	etcdURL, err := e.StartEtcd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd ready at %s in %v", etcdURL, since(&start))
	api, err := e.StartAPIServer(ctx, etcdURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver ready at %s in %v", api.URL, since(&start))
	host, err := e.StartRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("registry ready at %s in %v", host, since(&start))
	for _, u := range []string{etcdURL, api.URL, "http://" + host} {
		if pu, err := url.Parse(u); err != nil || pu.Hostname() != "127.0.0.1" {
			t.Errorf("%s is not on loopback", u)
		}
	}

	checkKubernetes(ctx, t, api)
	checkKubeconfig(t, api)
	checkRegistry(ctx, t, host)

	procs := e.Procs()
	if len(procs) != 3 {
		t.Fatalf("Procs() = %d processes, want 3", len(procs))
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("closed in %v", since(&start))
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, p := range procs {
		checkGone(t, p)
	}
	if _, err := e.StartEtcd(ctx); !errors.Is(err, env.ErrClosed) {
		t.Errorf("StartEtcd after Close: %v, want ErrClosed", err)
	}
}

// checkKubernetes creates a namespace and a pod in it, which needs the
// namespace's default ServiceAccount (ServiceAccount admission).
func checkKubernetes(ctx context.Context, t *testing.T, api *env.APIServer) {
	t.Helper()
	if err := api.EnsureNamespace(ctx, "e2e"); err != nil {
		t.Fatal(err)
	}
	if err := api.EnsureNamespace(ctx, "e2e"); err != nil {
		t.Fatalf("EnsureNamespace is not idempotent: %v", err)
	}
	ns, err := api.Client.CoreV1().Namespaces().Get(ctx, "e2e", metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("namespace e2e: %v %v", ns.Status.Phase, err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "127.0.0.1:1/x:y"}}},
	}
	if _, err := api.Client.CoreV1().Pods("e2e").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
}

func checkKubeconfig(t *testing.T, api *env.APIServer) {
	t.Helper()
	data, err := os.ReadFile(api.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var kc struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
				CAData string `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			User struct {
				Token string `json:"token"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := yaml.Unmarshal(data, &kc); err != nil {
		t.Fatal(err)
	}
	if len(kc.Clusters) != 1 || kc.Clusters[0].Cluster.Server != api.URL || kc.Clusters[0].Cluster.CAData == "" ||
		len(kc.Users) != 1 || kc.Users[0].User.Token != api.Config.BearerToken {
		t.Errorf("kubeconfig %s does not match the API server:\n%s", api.Kubeconfig, data)
	}
}

// checkRegistry pushes a random image and reads it back by digest.
func checkRegistry(ctx context.Context, t *testing.T, host string) {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host+"/e2e/random:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push: %v", err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	byDigest := tag.Context().Digest(want.String())
	got, err := remote.Image(byDigest, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull by digest: %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("pulled digest %v, want %v", d, want)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	rc, err := layers[1].Compressed()
	if err != nil {
		t.Fatalf("layer blob: %v", err)
	}
	rc.Close()
}

func checkGone(t *testing.T, p *env.Proc) {
	t.Helper()
	select {
	case <-p.Done():
	default:
		t.Errorf("%s (pid %d) still running after Close", p.Name, p.Pid())
	}
	// Signals are asynchronous: allow the kernel a moment.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := env.WaitFor(ctx, p.Name+" process group gone", func(context.Context) error {
		return groupAlive(p.Pid())
	})
	if err != nil {
		t.Error(err)
	}
}

// groupAlive reports members of process group pgid that are not zombies.
// Killed grandchildren stay zombies until init reaps them, which can take
// seconds in some containers; they no longer run, so they do not count.
func groupAlive(pgid int) error {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return nil
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		return fmt.Errorf("process group %d still exists", pgid)
	}
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces.
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" {
			return fmt.Errorf("%s: %s", f, data)
		}
	}
	return nil
}

func since(start *time.Time) time.Duration {
	now := time.Now()
	d := now.Sub(*start).Round(time.Millisecond)
	*start = now
	return d
}

// TestStartExited needs no tools: a process that dies before it is ready
// yields a *WaitError wrapping ErrExited, with the tail of its log.
func TestStartExited(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	e := env.New(t.TempDir(), env.Tools{})
	defer e.Close()
	never := func(context.Context) error { return errors.New("not yet") }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = e.Start(ctx, "crash", never, sh, "-c", "echo boom >&2; exit 3")
	var we *env.WaitError
	if !errors.As(err, &we) || !errors.Is(err, env.ErrExited) {
		t.Fatalf("err = %v, want *WaitError wrapping ErrExited", err)
	}
	if !strings.Contains(we.LogTail, "boom") || !strings.Contains(err.Error(), "not yet") {
		t.Errorf("error lacks the log tail or the last probe error: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close after a failed start: %v", err)
	}
}

// TestWaitForDeadline checks that WaitFor reports the last probe error.
func TestWaitForDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	n := 0
	err := env.WaitFor(ctx, "thing", func(context.Context) error {
		n++
		return errors.New("still booting")
	})
	var we *env.WaitError
	if !errors.As(err, &we) || !strings.Contains(err.Error(), "still booting") || n < 2 {
		t.Fatalf("err = %v after %d probes", err, n)
	}
}

// TestStopGroup checks that Close stops a process's children too, and
// that a process handling SIGTERM gets to exit cleanly.
func TestStopGroup(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	e := env.New(dir, env.Tools{})
	flag := filepath.Join(dir, "trapped")
	ready := func(context.Context) error { _, err := os.Stat(flag); return err }
	p, err := e.Start(context.Background(), "tree", ready, sh, "-c",
		`trap 'exit 0' TERM; sleep 300 & touch "$0"; wait`, flag)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > env.StopGrace {
		t.Errorf("Close took %v", d)
	}
	checkGone(t, p)
}
