package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/manifests"
	"gatehouse.dev/gatehouse/webhook"
)

// deploymentArgs returns the args of the shipped Deployment's container.
func deploymentArgs(t *testing.T) []string {
	t.Helper()
	data, err := manifests.Base.ReadFile("base/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict(data, &dep); err != nil {
		t.Fatal(err)
	}
	if n := len(dep.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment has %d containers, want 1", n)
	}
	args := dep.Spec.Template.Spec.Containers[0].Args
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("Deployment args %q do not start with serve", args)
	}
	return args[1:]
}

func TestParseServeDeploymentArgs(t *testing.T) {
	c, err := parseServe(deploymentArgs(t), io.Discard)
	if err != nil {
		t.Fatalf("the shipped Deployment's args are refused: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, ":8443"},
		{"probe-listen", c.ProbeListen, ":8080"},
		{"kubeconfig (in-cluster)", c.Kubeconfig, ""},
		{"tls-mode", c.TLSMode, "self-managed"},
		{"ca-secret", c.CASecret, "gatehouse-system/gatehouse-ca"},
		{"cert-hosts", strings.Join(c.CertHosts, ","), "gatehouse.gatehouse-system.svc,gatehouse.gatehouse-system.svc.cluster.local"},
		{"webhook-config-name", c.WebhookName, "gatehouse"},
		{"watch-policies", c.WatchPolicy, true},
		{"unmatched-images", c.Unmatched, webhook.Deny},
		{"infra-failure", c.InfraFailure, webhook.Deny},
		{"default-timeout", c.Timeout, 10 * time.Second},
		{"log-level", c.LogLevel, "info"},
	}
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			if ch.got != ch.want {
				t.Errorf("got %v, want %v", ch.got, ch.want)
			}
		})
	}
}

func TestParseServeAccepts(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(*Config) error
	}{
		{"cert files", []string{"--tls-mode=files", "--tls-cert-file=/tls/tls.crt", "--tls-key-file=/tls/tls.key"}, func(c *Config) error {
			return want(c.TLSCertFile == "/tls/tls.crt" && c.TLSKeyFile == "/tls/tls.key" && len(c.CertHosts) == 0, "files %q %q hosts %q", c.TLSCertFile, c.TLSKeyFile, c.CertHosts)
		}},
		{"without a cluster", []string{"--kubeconfig=none", "--policy-file=/policies", "--cert-hosts=localhost"}, func(c *Config) error {
			return want(c.Kubeconfig == "none" && slices.Equal(c.PolicyFiles, []string{"/policies"}), "kubeconfig %q files %q", c.Kubeconfig, c.PolicyFiles)
		}},
		{"ca-secret not needed without a cluster", []string{"--kubeconfig=none", "--policy-file=p.yaml", "--cert-hosts=localhost", "--ca-secret="}, nil},
		{"lists split, trimmed and repeatable", []string{"--cert-hosts=a.svc, b.svc,,", "--cert-hosts=10.0.0.1", "--policy-file=x.yaml", "--policy-file=y/", "--insecure-registries=localhost:5000,registry.local:80"}, func(c *Config) error {
			return want(slices.Equal(c.CertHosts, []string{"a.svc", "b.svc", "10.0.0.1"}) && slices.Equal(c.PolicyFiles, []string{"x.yaml", "y/"}) &&
				slices.Equal(c.Insecure, []string{"localhost:5000", "registry.local:80"}), "hosts %q files %q insecure %q", c.CertHosts, c.PolicyFiles, c.Insecure)
		}},
		{"fail open and warn", []string{"--cert-hosts=h", "--unmatched-images=warn", "--infra-failure=allow"}, func(c *Config) error {
			return want(c.Unmatched == webhook.Warn && c.InfraFailure == webhook.Allow, "unmatched %q infra %q", c.Unmatched, c.InfraFailure)
		}},
		{"allow unmatched", []string{"--cert-hosts=h", "--unmatched-images=allow"}, func(c *Config) error {
			return want(c.Unmatched == webhook.Allow, "unmatched %q", c.Unmatched)
		}},
		{"timeout at the API server's limit", []string{"--cert-hosts=h", "--default-timeout=30s"}, func(c *Config) error {
			return want(c.Timeout == 30*time.Second, "timeout %v", c.Timeout)
		}},
		{"cache disabled", []string{"--cert-hosts=h", "--cache-size=0", "--cache-ttl=0s"}, nil},
		{"every log level", []string{"--cert-hosts=h", "--log-level=debug"}, nil},
		{"no policy watch, webhook configurations left alone", []string{"--cert-hosts=h", "--watch-policies=false", "--policy-file=p.yaml", "--webhook-config-name="}, func(c *Config) error {
			return want(!c.WatchPolicy && c.WebhookName == "", "watch %v name %q", c.WatchPolicy, c.WebhookName)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServe(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("parseServe(%q): %v", tt.args, err)
			}
			if tt.check != nil {
				if err := tt.check(c); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func want(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("unexpected config: "+format, args...)
}

func TestParseServeRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error, naming the flag
	}{
		{"files mode without files", []string{"--tls-mode=files"}, []string{"--tls-mode=files needs --tls-cert-file and --tls-key-file"}},
		{"files mode without the key", []string{"--tls-mode=files", "--tls-cert-file=c.pem"}, []string{"--tls-key-file"}},
		{"files mode without the certificate", []string{"--tls-mode=files", "--tls-key-file=k.pem"}, []string{"--tls-cert-file"}},
		{"unknown tls mode", []string{"--tls-mode=acme"}, []string{`--tls-mode "acme"`, "self-managed or files"}},
		{"self-managed without cert-hosts", []string{}, []string{"--tls-mode=self-managed needs --cert-hosts"}},
		{"self-managed with empty cert-hosts", []string{"--cert-hosts=, ,"}, []string{"--cert-hosts"}},
		{"ca-secret without namespace", []string{"--cert-hosts=h", "--ca-secret=gatehouse-ca"}, []string{`--ca-secret "gatehouse-ca"`, "namespace/name"}},
		{"ca-secret with empty namespace", []string{"--cert-hosts=h", "--ca-secret=/gatehouse-ca"}, []string{"--ca-secret"}},
		{"ca-secret with empty name", []string{"--cert-hosts=h", "--ca-secret=gatehouse-system/"}, []string{"--ca-secret"}},
		{"ca-secret with two slashes", []string{"--cert-hosts=h", "--ca-secret=gatehouse-system/ca/x"}, []string{"--ca-secret"}},
		{"no cluster and no policy files", []string{"--kubeconfig=none", "--cert-hosts=h"}, []string{"--kubeconfig=none needs --policy-file"}},
		{"no policy watch and no policy files", []string{"--watch-policies=false", "--cert-hosts=h"}, []string{"--watch-policies=false needs --policy-file"}},
		{"bad unmatched-images", []string{"--cert-hosts=h", "--unmatched-images=block"}, []string{"--unmatched-images", `"block"`}},
		{"infra-failure cannot warn", []string{"--cert-hosts=h", "--infra-failure=warn"}, []string{"--infra-failure", `"warn"`}},
		{"bad log level", []string{"--cert-hosts=h", "--log-level=trace"}, []string{`--log-level "trace"`}},
		{"timeout over 30s", []string{"--cert-hosts=h", "--default-timeout=31s"}, []string{"--default-timeout"}},
		{"zero timeout", []string{"--cert-hosts=h", "--default-timeout=0s"}, []string{"--default-timeout"}},
		{"negative cache size", []string{"--cert-hosts=h", "--cache-size=-1"}, []string{"--cache-size"}},
		{"negative negative-result TTL", []string{"--cert-hosts=h", "--cache-negative-ttl=-1s"}, []string{"--cache-negative-ttl"}},
		{"negative step timeout", []string{"--cert-hosts=h", "--step-timeout=-1s"}, []string{"--step-timeout"}},
		{"zero max body", []string{"--cert-hosts=h", "--max-body-bytes=0"}, []string{"--max-body-bytes"}},
		{"misspelt flag", []string{"--tls-mod=files"}, []string{"-tls-mod"}},
		{"bad duration", []string{"--cert-hosts=h", "--default-timeout=10"}, []string{"-default-timeout"}},
		{"stray argument", []string{"--cert-hosts=h", "policies.yaml"}, []string{`"policies.yaml"`}},
		{"stray argument hides later flags", []string{"--cert-hosts", "a", "b", "--tls-mode=acme"}, []string{`"b"`}},
		{"several problems at once", []string{"--tls-mode=files", "--kubeconfig=none", "--log-level=trace", "--default-timeout=1m"},
			[]string{"--tls-cert-file", "--policy-file", "--log-level", "--default-timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			c, err := parseServe(tt.args, &stderr)
			if err == nil {
				t.Fatalf("parseServe(%q) accepted: %+v", tt.args, c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var u usageError
			if !errors.As(err, &u) || exitCode(err) != 2 {
				t.Errorf("error %T is not a usage error (exit code %d)", err, exitCode(err))
			}
		})
	}
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{"version", []string{"version"}, version + "\n", "", 0},
		{"help", []string{"help"}, "usage: gatehouse serve", "", 0},
		{"no command", nil, "", "missing command", 2},
		{"unknown command", []string{"serv"}, "", `unknown command "serv"`, 2},
		{"serve with bad flags does not start", []string{"serve", "--tls-mode=acme"}, "", "--tls-mode", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout strings.Builder
			err := run(t.Context(), tt.args, &stdout, io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) || exitCode(err) != tt.wantStatus {
				t.Fatalf("run = %v (exit %d), want an error containing %q (exit %d)", err, exitCode(err), tt.wantErr, tt.wantStatus)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.wantOut)
			}
		})
	}
}
