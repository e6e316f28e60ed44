package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"gatehouse.dev/gatehouse/certs"
	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/rego"
	"gatehouse.dev/gatehouse/policy/status"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/pullsecrets"
	"gatehouse.dev/gatehouse/verify/registry"
	"gatehouse.dev/gatehouse/webhook"
	"gatehouse.dev/gatehouse/webhook/kubeevents"
	"gatehouse.dev/gatehouse/webhook/revalidate"
)

func serve(ctx context.Context, c *Config, logOut io.Writer) error {
	log := newLogger(c.LogLevel, logOut)
	klog.SetSlogLogger(log) // client-go's own messages (watches, leader election) as JSON lines too
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	kube, err := connect(c.Kubeconfig)
	if err != nil {
		return err
	}
	store, err := loadPolicies(c, kube)
	if err != nil {
		return err
	}
	var events *kubeevents.Recorder
	if kube != nil {
		events = kubeevents.New(kube.client, log)
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_events_dropped_total", Help: "Denials not recorded as Kubernetes Events, for the rate limits or a full queue."},
			func() float64 { return float64(events.Dropped()) }))
	}
	admitter, err := newAdmitter(c, store, kube, reg, log, events)
	if err != nil {
		return err
	}
	src, runCerts, err := certSource(c, kube, log)
	if err != nil {
		return err
	}
	registerGauges(reg, store, src)

	g, ctx := errgroup.WithContext(ctx)
	if kube != nil && c.WatchPolicy {
		g.Go(func() error { return policy.Watch(ctx, kube.dynamic, store, log) })
	}
	if kube != nil {
		g.Go(func() error { resyncSecrets(ctx, store, log); return nil })
		g.Go(func() error { events.Run(ctx); return nil })
	}
	if work := clusterWork(c, kube, store, admitter, events, reg, log); work != nil {
		var leading prometheus.Gauge
		if c.LeaderLease != "" {
			leading = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_leader", Help: "1 while this replica holds the leader lease, and so revalidates running pods and writes policy statuses; else 0."})
			reg.MustRegister(leading)
		}
		g.Go(func() error {
			if err := waitReady(ctx, store); err != nil {
				return nil
			}
			if leading == nil {
				work(ctx) // every replica: --leader-lease=""
				return nil
			}
			lead(ctx, kube.client, c.LeaderLease, leaderIdentity(), leading.Set, work, log)
			return nil
		})
	}
	g.Go(func() error { runCerts(ctx); return nil })
	tlsCfg := &tls.Config{GetCertificate: src.GetCertificate, MinVersion: tls.VersionTLS12}
	admission := webhook.NewServer(admitter, webhook.ServerOptions{MaxBodyBytes: c.MaxBodyBytes, DefaultTimeout: c.Timeout}).Handler()
	probes := webhook.ProbeHandler(reg, map[string]webhook.Check{
		"certificate": src.Ready,
		"policies":    func() error { return boolErr(store.Ready(), "policies are still loading") },
	})
	g.Go(func() error { return listen(ctx, c.Listen, admission, tlsCfg, log) })
	g.Go(func() error { return listen(ctx, c.ProbeListen, probes, nil, log) })
	log.Info("gatehouse started", "version", version, "listen", c.Listen, "probeListen", c.ProbeListen)
	return g.Wait()
}

// clusterWork is what one replica does for the whole cluster: write the
// policies' statuses and revalidate the running pods. Nil when there is
// nothing to do.
func clusterWork(c *Config, kube *kubeClients, store *policy.Store, admitter *webhook.Admitter, events *kubeevents.Recorder, reg prometheus.Registerer, log *slog.Logger) func(context.Context) {
	if kube == nil {
		return nil
	}
	var jobs []func(context.Context)
	var statuses *status.Writer
	if c.WatchPolicy && c.PolicyStatus {
		statuses = status.New(kube.dynamic, store, log)
		jobs = append(jobs, func(ctx context.Context) { statuses.Run(ctx, status.Check) })
	}
	if c.RevalidateInterval > 0 {
		o := revalidate.Options{
			Admitter: admitter, Pods: kube.runningPods, Revision: func() uint64 { return store.Snapshot().Revision },
			Policies: func() []string { return store.Snapshot().IDs() },
			Interval: c.RevalidateInterval, Skip: c.RevalidateSkip, Report: events.NonCompliant, Log: log,
		}
		if statuses != nil {
			o.Passed = func(s revalidate.Summary) {
				statuses.Revalidated(status.Pass{End: s.End, Policies: s.Policies, Pods: s.Pods})
			}
		}
		r := revalidate.New(o, reg)
		jobs = append(jobs, r.Run)
	}
	if len(jobs) == 0 {
		return nil
	}
	return func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, job := range jobs {
			wg.Add(1)
			go func() { defer wg.Done(); job(ctx) }()
		}
		wg.Wait()
	}
}

func newLogger(level string, out io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: l}))
}

type kubeClients struct {
	client  kubernetes.Interface
	dynamic dynamic.Interface
}

func connect(kubeconfig string) (*kubeClients, error) {
	if kubeconfig == "none" {
		return nil, nil
	}
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster (use --kubeconfig=none to run without one): %w", err)
	}
	cfg.UserAgent = "gatehouse/" + version
	k := &kubeClients{}
	if k.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if k.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return k, nil
}

// loadPolicies reads policy files now (a bad file stops start-up with the
// error) and returns a store that is ready when every source has loaded.
func loadPolicies(c *Config, kube *kubeClients) (*policy.Store, error) {
	var sources []string
	if len(c.PolicyFiles) > 0 {
		sources = append(sources, policy.SourceFiles)
	}
	if kube != nil && c.WatchPolicy {
		sources = append(sources, policy.SourceCluster)
	}
	store := policy.NewStore(sources...)
	store.SetRego(rego.Options{Timeout: c.RegoTimeout})
	if kube != nil {
		store.UseSecrets(policy.KubeSecrets{Client: kube.client})
	}
	if len(c.PolicyFiles) == 0 {
		return store, nil
	}
	objs, err := policy.ReadFiles(c.PolicyFiles...)
	if err != nil {
		return nil, fmt.Errorf("--policy-file: %w", err)
	}
	var errs []error
	for _, o := range objs {
		errs = append(errs, store.Apply(o))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("--policy-file: %w", err)
	}
	store.Synced(policy.SourceFiles)
	return store, nil
}

func newAdmitter(c *Config, store *policy.Store, kube *kubeClients, reg prometheus.Registerer, log *slog.Logger, events *kubeevents.Recorder) (*webhook.Admitter, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 16
	metrics := webhook.NewMetrics(reg)
	if c.MetricsNamespaces {
		metrics.CountNamespaces(reg)
	}
	regClient := registry.New(registry.Options{Transport: transport, Insecure: c.Insecure, UserAgent: "gatehouse/" + version, Observer: metrics})
	var cache *verify.Cache
	if c.CacheSize > 0 && c.CacheTTL > 0 {
		cache = verify.NewCache(c.CacheSize, c.CacheTTL, c.CacheNegativeTTL)
	}
	if cache != nil {
		cache.Observe(metrics)
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_cache_entries", Help: "Entries in the verification cache, all layers."},
			func() float64 { return float64(cache.Len()) }))
	}
	v, err := verify.New(verify.Options{Registry: regClient, Cache: cache, StepTimeout: c.StepTimeout, Observer: metrics, MaxAttestationBytes: c.MaxAttestationBytes})
	if err != nil {
		return nil, err
	}
	var keychains pullsecrets.Source = pullsecrets.Anonymous{}
	if kube != nil {
		keychains = pullsecrets.NewCluster(kube.client, 30*time.Second)
	}
	return webhook.NewAdmitter(webhook.Config{
		Verifier: v, Policies: store, Keychains: keychains,
		Unmatched: c.Unmatched, InfraFailure: c.InfraFailure,
		Metrics: metrics, Log: log, Events: eventSink(events),
	})
}

// certSource returns the serving certificate source and the loop that keeps
// it fresh.
func certSource(c *Config, kube *kubeClients, log *slog.Logger) (certs.Source, func(context.Context), error) {
	if c.TLSMode == "files" {
		f, err := certs.NewFileSource(c.TLSCertFile, c.TLSKeyFile, log)
		if err != nil {
			return nil, nil, fmt.Errorf("--tls-cert-file/--tls-key-file: %w", err)
		}
		return f, func(ctx context.Context) { f.Run(ctx, 10*time.Second) }, nil
	}
	o := certs.SelfManagedOptions{Hosts: c.CertHosts, Store: &certs.MemoryStore{}, Log: log}
	if kube != nil {
		ns, name, _ := strings.Cut(c.CASecret, "/")
		o.Store = &certs.SecretStore{Client: kube.client, Namespace: ns, Name: name}
		if c.WebhookName != "" {
			o.Bundle = &certs.WebhookBundle{Client: kube.client, Name: c.WebhookName}
		}
	}
	s, err := certs.NewSelfManaged(o)
	if err != nil {
		return nil, nil, err
	}
	run := func(ctx context.Context) {
		for err := s.Refresh(ctx); err != nil; err = s.Refresh(ctx) {
			log.Error("setting up certificates; retrying", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
		s.Run(ctx, time.Minute)
	}
	return s, run, nil
}

// resyncSecrets re-reads the keys policies keep in Secrets every minute.
func resyncSecrets(ctx context.Context, store *policy.Store, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := store.Resync(); err != nil {
				log.Error("re-reading policy keys from Secrets; previous revisions keep serving", "error", err)
			}
		}
	}
}

func registerGauges(reg prometheus.Registerer, store *policy.Store, src certs.Source) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_policy_revision", Help: "Revision of the loaded policy set; it increases with every change."},
			func() float64 { return float64(store.Snapshot().Revision) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_policies_loaded", Help: "Policies currently loaded."},
			func() float64 { return float64(store.Snapshot().Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_policies_refused", Help: "Policies whose latest revision was refused; their last good revision, if any, keeps serving."},
			func() float64 { return float64(len(store.Errors())) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatehouse_policy_refusals_total", Help: "Policy revisions refused since start: they did not compile, or could not be decoded or read."},
			func() float64 { return float64(store.Refused()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_policy_last_change_timestamp_seconds", Help: "When the loaded policy set last changed, Unix time (0 before any policy loaded)."},
			func() float64 {
				if t := store.Changed(); !t.IsZero() {
					return float64(t.Unix())
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_serving_certificate_expiry_timestamp_seconds", Help: "Expiry of the current serving certificate, Unix time (0 before one is loaded)."},
			func() float64 {
				if t := src.NotAfter(); !t.IsZero() {
					return float64(t.Unix())
				}
				return 0
			}),
	)
}

func listen(ctx context.Context, addr string, h http.Handler, tlsCfg *tls.Config, log *slog.Logger) error {
	srv := &http.Server{
		Addr: addr, Handler: h, TLSConfig: tlsCfg,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 40 * time.Second, IdleTimeout: 90 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if tlsCfg != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func boolErr(ok bool, msg string) error {
	if ok {
		return nil
	}
	return errors.New(msg)
}

// eventSink is events as a webhook.EventSink, nil without a cluster (a nil
// *Recorder in the interface would not be nil).
func eventSink(events *kubeevents.Recorder) webhook.EventSink {
	if events == nil {
		return nil
	}
	return events
}

// runningPods lists every pod of the cluster, a page at a time.
func (k *kubeClients) runningPods(ctx context.Context) ([]corev1.Pod, error) {
	var out []corev1.Pod
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := k.client.CoreV1().Pods("").List(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, list.Items...)
		if opts.Continue = list.Continue; opts.Continue == "" {
			return out, nil
		}
	}
}

// waitReady returns once the policies have loaded, or ctx ends.
func waitReady(ctx context.Context, store *policy.Store) error {
	for !store.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}
