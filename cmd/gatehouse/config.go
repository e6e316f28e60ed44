package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/webhook"
)

// Config is everything `gatehouse serve` reads from flags, validated once.
type Config struct {
	Listen      string
	ProbeListen string
	Kubeconfig  string // "" in-cluster, "none" no cluster
	TLSMode     string // self-managed | files
	TLSCertFile string
	TLSKeyFile  string
	CASecret    string // namespace/name
	CertHosts   []string
	WebhookName string
	PolicyFiles []string
	WatchPolicy bool
	// PolicyStatus writes the status of the watched policy resources.
	PolicyStatus bool
	// LeaderLease is the Lease ("namespace/name") whose holder revalidates
	// and writes statuses; "" makes every replica do it.
	LeaderLease  string
	Unmatched    webhook.Action
	InfraFailure webhook.Action
	Insecure     []string
	Timeout      time.Duration
	StepTimeout  time.Duration
	RegoTimeout  time.Duration
	// MetricsNamespaces adds decisions by namespace.
	MetricsNamespaces bool
	// RevalidateInterval is the time between revalidation passes (0: off).
	RevalidateInterval time.Duration
	// RevalidateSkip are namespaces revalidation never judges.
	RevalidateSkip      []string
	MaxBodyBytes        int64
	MaxAttestationBytes int64
	CacheSize           int
	CacheTTL            time.Duration
	// CacheNegativeTTL keeps results with a missing signature.
	CacheNegativeTTL time.Duration
	LogLevel         string
}

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

func parseServe(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var certHosts, policyFiles, insecure listFlag
	var unmatched, infra string
	fs.StringVar(&c.Listen, "listen", ":8443", "address of the HTTPS admission server")
	fs.StringVar(&c.ProbeListen, "probe-listen", ":8080", "address of the plain-HTTP server for /healthz, /readyz and /metrics")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", `kubeconfig file; empty: in-cluster config; "none": run without a cluster (policies from files, anonymous pulls)`)
	fs.StringVar(&c.TLSMode, "tls-mode", "self-managed", `"self-managed" (gatehouse runs its CA) or "files" (certificate files from elsewhere, reloaded on change)`)
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", "", "serving certificate (PEM) for --tls-mode=files")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", "", "serving key (PEM) for --tls-mode=files")
	fs.StringVar(&c.CASecret, "ca-secret", "gatehouse-system/gatehouse-ca", "namespace/name of the Secret holding the self-managed CA")
	fs.Var(&certHosts, "cert-hosts", "DNS names and IPs of the self-managed serving certificate (comma-separated, repeatable)")
	fs.StringVar(&c.WebhookName, "webhook-config-name", "gatehouse", `name of the Validating and Mutating webhook configurations whose caBundle gatehouse keeps ("" to leave them alone)`)
	fs.Var(&policyFiles, "policy-file", "policy YAML file or directory (repeatable)")
	fs.BoolVar(&c.WatchPolicy, "watch-policies", true, "watch ClusterImagePolicy and ImagePolicy resources in the cluster")
	fs.StringVar(&c.LeaderLease, "leader-lease", "gatehouse-system/gatehouse-leader", `namespace/name of the Lease that elects the one replica which revalidates running pods and writes policy statuses ("" for every replica)`)
	fs.BoolVar(&c.PolicyStatus, "policy-status", true, "write each watched policy's status: Ready (loaded or refused, and why) and, with revalidation, Compliant and nonCompliantPods")
	fs.StringVar(&unmatched, "unmatched-images", "deny", "what happens to images no ClusterImagePolicy matches: deny, warn or allow")
	fs.StringVar(&infra, "infra-failure", "deny", "what happens when verification is inconclusive (registry down, rate-limited, timeout): deny (fail closed) or allow (fail open, counted apart)")
	fs.Var(&insecure, "insecure-registries", "registries (host:port) that may be reached over plain HTTP; loopback always may")
	fs.DurationVar(&c.Timeout, "default-timeout", 10*time.Second, "webhook timeout assumed when the API server sends none")
	fs.DurationVar(&c.StepTimeout, "step-timeout", 0, "deadline of each registry step inside the request's (0: the request's only)")
	var revalidateSkip listFlag
	fs.DurationVar(&c.RevalidateInterval, "revalidate-interval", 10*time.Minute, "time between passes that judge the running pods again (also after every policy change); 0 turns revalidation off")
	fs.Var(&revalidateSkip, "revalidate-skip-namespaces", "namespaces whose pods revalidation never judges, comma-separated (those the webhook configuration exempts); empty: kube-system,gatehouse-system")
	fs.BoolVar(&c.MetricsNamespaces, "metrics-namespaces", false, "also count decisions by namespace (gatehouse_admission_decisions_by_namespace_total): one series per namespace, decision and reason")
	fs.DurationVar(&c.RegoTimeout, "rego-timeout", 500*time.Millisecond, "time limit of one Rego evaluation (one policy's module for one image or pod); one that runs out denies")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", webhook.DefaultMaxBodyBytes, "largest AdmissionReview accepted")
	fs.Int64Var(&c.MaxAttestationBytes, "max-attestation-bytes", attest.MaxBytes, "largest attestation read (an envelope, a bundle, an attached document), and the most bytes read for one image's attestations in each format")
	fs.IntVar(&c.CacheSize, "cache-size", 10000, "verified results kept by digest (0 disables the cache)")
	fs.DurationVar(&c.CacheTTL, "cache-ttl", 5*time.Minute, "how long a verified result is reused")
	fs.DurationVar(&c.CacheNegativeTTL, "cache-negative-ttl", 15*time.Second, "how long a result with a missing signature is reused (0: never), so a newly signed image is admitted soon")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, usageError{err.Error()}
	}
	c.RevalidateSkip = revalidateSkip
	if len(c.RevalidateSkip) == 0 {
		c.RevalidateSkip = []string{"kube-system", "gatehouse-system"}
	}
	if fs.NArg() > 0 {
		// flag stops at the first non-flag: everything from here on,
		// flags included, would be silently ignored.
		return nil, usageError{fmt.Sprintf("unexpected argument %q: serve takes flags only; write lists comma-separated, e.g. --cert-hosts=a,b", fs.Arg(0))}
	}
	c.CertHosts, c.PolicyFiles, c.Insecure = certHosts, policyFiles, insecure
	var err error
	if c.Unmatched, err = webhook.ParseAction(unmatched, webhook.Deny, webhook.Warn, webhook.Allow); err != nil {
		return nil, usageError{"--unmatched-images " + err.Error()}
	}
	if c.InfraFailure, err = webhook.ParseAction(infra, webhook.Deny, webhook.Allow); err != nil {
		return nil, usageError{"--infra-failure " + err.Error()}
	}
	if err := c.validate(); err != nil {
		return nil, usageError{err.Error()}
	}
	return c, nil
}

func (c *Config) validate() error {
	var errs []error
	switch c.TLSMode {
	case "files":
		if c.TLSCertFile == "" || c.TLSKeyFile == "" {
			errs = append(errs, errors.New("--tls-mode=files needs --tls-cert-file and --tls-key-file"))
		}
	case "self-managed":
		if len(c.CertHosts) == 0 {
			errs = append(errs, errors.New("--tls-mode=self-managed needs --cert-hosts, e.g. gatehouse.gatehouse-system.svc"))
		}
		if ns, name, ok := strings.Cut(c.CASecret, "/"); c.Kubeconfig != "none" && (!ok || ns == "" || name == "" || strings.Contains(name, "/")) {
			errs = append(errs, fmt.Errorf("--ca-secret %q: write namespace/name", c.CASecret))
		}
	default:
		errs = append(errs, fmt.Errorf("--tls-mode %q: use self-managed or files", c.TLSMode))
	}
	if c.Kubeconfig == "none" && len(c.PolicyFiles) == 0 {
		errs = append(errs, errors.New("--kubeconfig=none needs --policy-file: without a cluster, policies come from files"))
	} else if !c.WatchPolicy && len(c.PolicyFiles) == 0 {
		errs = append(errs, errors.New("--watch-policies=false needs --policy-file: otherwise no policy could ever load"))
	}
	if ns, name, ok := strings.Cut(c.LeaderLease, "/"); c.LeaderLease != "" && (!ok || ns == "" || name == "" || strings.Contains(name, "/")) {
		errs = append(errs, fmt.Errorf("--leader-lease %q: write namespace/name, or \"\" for every replica to revalidate", c.LeaderLease))
	}
	if c.RevalidateInterval < 0 || (c.RevalidateInterval > 0 && c.RevalidateInterval < 30*time.Second) {
		errs = append(errs, errors.New("--revalidate-interval must be 0 (off) or at least 30s: each pass judges every running pod"))
	}
	if c.RegoTimeout <= 0 || c.RegoTimeout > 10*time.Second {
		errs = append(errs, errors.New("--rego-timeout must be between 0 and 10s: a module that needs longer would make admissions miss the webhook deadline"))
	}
	if c.Timeout <= 0 || c.Timeout > 30*time.Second {
		errs = append(errs, errors.New("--default-timeout must be between 0 and 30s (the API server's limit)"))
	}
	if c.CacheTTL < 0 || c.CacheNegativeTTL < 0 || c.CacheSize < 0 || c.MaxBodyBytes <= 0 || c.MaxAttestationBytes <= 0 || c.StepTimeout < 0 {
		errs = append(errs, errors.New("--cache-ttl, --cache-negative-ttl, --cache-size and --step-timeout cannot be negative; --max-body-bytes and --max-attestation-bytes must be positive"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: use debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}
