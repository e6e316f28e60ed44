package env_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

// TestReferrers pushes an OCI image and an artifact whose subject is that
// image to zot and to docker-registry. zot answers the referrers API;
// docker-registry has none, so go-containerregistry keeps the referrers in
// the sha256-<hex> fallback tag when pushing and reads them from there.
func TestReferrers(t *testing.T) {
	tools := env.RequireTools(t, env.ToolZot, env.ToolRegistry)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := env.New(t.TempDir(), tools)
	t.Cleanup(func() { e.Close() })

	start := time.Now()
	zot, err := e.StartZot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("zot ready at %s in %v", zot, since(&start))
	reg, err := e.StartRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("registry ready at %s in %v", reg, since(&start))

	t.Run("zot", func(t *testing.T) {
		checkReferrers(ctx, t, zot, true)
		checkDockerRejected(ctx, t, zot)
	})
	t.Run("docker-registry", func(t *testing.T) { checkReferrers(ctx, t, reg, false) })
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err) // a registry crashed during the test
	}
}

// artifactType is the config media type of the test artifact, which zot
// v1.4.3 reports as its artifactType (it predates the manifest field).
const artifactType = "application/vnd.gatehouse.test.v1+json"

// checkReferrers pushes an image and an artifact referring to it, and
// checks that remote.Referrers finds the artifact through the referrers
// API (api) or the tag fallback (!api).
func checkReferrers(ctx context.Context, t *testing.T, host string, api bool) {
	t.Helper()
	repo, err := name.NewRepository(host+"/e2e/app", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img := ociImage(t)
	if err := remote.Write(repo.Tag("v1"), img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push image: %v", err)
	}
	subject, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	art := ociArtifact(t, *subject)
	artDigest, err := art.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Digest(artDigest.String()), art, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push artifact: %v", err)
	}

	idx, err := remote.Referrers(repo.Digest(subject.Digest.String()), remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("Referrers: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != artDigest || im.Manifests[0].ArtifactType != artifactType {
		t.Errorf("Referrers = %+v, want %v with artifactType %s", im.Manifests, artDigest, artifactType)
	}

	code, body := get(ctx, t, fmt.Sprintf("http://%s/v2/%s/referrers/%s", host, repo.RepositoryStr(), subject.Digest))
	fallback := repo.Tag(strings.Replace(subject.Digest.String(), ":", "-", 1))
	_, tagErr := remote.Head(fallback, remote.WithContext(ctx))
	if api {
		if code != http.StatusOK || !strings.Contains(body, artDigest.String()) {
			t.Errorf("GET referrers: %d %s, want 200 listing %v", code, body, artDigest)
		}
		if !isNotFound(tagErr) {
			t.Errorf("fallback tag %s: %v, want 404 (the referrers API made it unnecessary)", fallback, tagErr)
		}
		return
	}
	if code != http.StatusNotFound {
		t.Errorf("GET referrers: %d %s, want 404 (no referrers API)", code, body)
	}
	if tagErr != nil {
		t.Errorf("fallback tag %s: %v", fallback, tagErr)
	}
}

// checkDockerRejected checks that zot refuses a Docker schema 2 image, the
// reason the zot tests push OCI media types only.
func checkDockerRejected(ctx context.Context, t *testing.T, host string) {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host+"/e2e/docker:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	err = remote.Write(tag, img, remote.WithContext(ctx))
	var te *transport.Error
	if !errors.As(err, &te) || len(te.Errors) == 0 || te.Errors[0].Code != transport.ManifestInvalidErrorCode {
		t.Fatalf("push of a Docker schema 2 image: %v, want MANIFEST_INVALID", err)
	}
	t.Logf("zot rejects Docker schema 2 (HTTP %d): %v", te.StatusCode, err)
}

// ociImage returns a one-layer image with OCI media types throughout.
func ociImage(t *testing.T) v1.Image {
	t.Helper()
	layer, err := random.Layer(1024, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// ociArtifact returns an OCI image manifest of type artifactType with one
// payload layer, referring to subject.
func ociArtifact(t *testing.T, subject v1.Descriptor) v1.Image {
	t.Helper()
	payload := static.NewLayer([]byte(`{"hello":"referrers"}`), "application/vnd.gatehouse.test.payload.v1+json")
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), artifactType)
	art, err := mutate.AppendLayers(base, payload)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Subject(art, subject).(v1.Image)
}

// get GETs url without a proxy, asking for an OCI index, and returns the
// status code and the start of the body.
func get(ctx context.Context, t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", string(types.OCIImageIndex))
	resp, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body)
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// TestCosign3 checks that the pinned cosign v3 runs.
func TestCosign3(t *testing.T) {
	tools := env.RequireTools(t, env.ToolCosign3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tools.Cosign3, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("cosign3 version: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^GitVersion:\s+v3\.`).Match(out) {
		t.Errorf("cosign3 version is not v3:\n%s", out)
	}
}

// TestStartZotMissing needs no tools: StartZot without zot says how to get it.
func TestStartZotMissing(t *testing.T) {
	e := env.New(t.TempDir(), env.Tools{})
	defer e.Close()
	_, err := e.StartZot(context.Background())
	var me *env.MissingToolError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "zot") || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("err = %v, want a *MissingToolError naming zot and `make tools`", err)
	}
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
