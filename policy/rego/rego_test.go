package rego_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/policy/rego"
	"gatehouse.dev/gatehouse/verify"
)

const registries = `package gatehouse.images

default allow := false

allow if startswith(input.image.repository, "registry.example.com/")

deny contains msg if {
	input.image.tag == "latest"
	msg := sprintf("%s: the tag latest is mutable; pin a release tag or a digest", [input.image.image])
}

warn contains msg if {
	not input.image.pinned
	msg := "not pinned"
}
`

func input(repo, tag string, pinned bool) *rego.Input {
	return &rego.Input{
		APIVersion: rego.InputVersion,
		Request:    rego.Request{Operation: "CREATE", Namespace: "team", Kind: rego.Kind{Version: "v1", Kind: "Pod"}},
		Object:     json.RawMessage(`{"kind":"Pod","metadata":{"labels":{"app":"web"}}}`),
		Image: &rego.Image{Field: "containers", Container: "app", Result: verify.Result{
			Image: repo + ":" + tag, Repository: repo, Tag: tag, Pinned: pinned, Digest: "sha256:" + strings.Repeat("a", 64),
		}},
	}
}

func compile(t *testing.T, module string) *rego.Program {
	t.Helper()
	p, err := rego.Compile(context.Background(), "test.rego", module, rego.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func eval(t *testing.T, p *rego.Program, in *rego.Input) rego.Decision {
	t.Helper()
	v, err := in.Value()
	if err != nil {
		t.Fatal(err)
	}
	return p.Eval(context.Background(), v)
}

func TestEval(t *testing.T) {
	p := compile(t, registries)
	if p.Package != "gatehouse.images" || !strings.HasPrefix(p.Revision, "sha256:") {
		t.Fatalf("package %q revision %q", p.Package, p.Revision)
	}
	tests := []struct {
		name    string
		in      *rego.Input
		allowed bool
		deny    []string
		warn    []string
	}{
		{name: "trusted registry, release tag", in: input("registry.example.com/app", "v1", true), allowed: true},
		{name: "trusted registry, unpinned", in: input("registry.example.com/app", "v1", false), allowed: true, warn: []string{"not pinned"}},
		{name: "latest", in: input("registry.example.com/app", "latest", true), deny: []string{"registry.example.com/app:latest: the tag latest is mutable; pin a release tag or a digest"}},
		{name: "another registry", in: input("docker.io/library/nginx", "v1", true)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := eval(t, p, tc.in)
			if d.Allowed() != tc.allowed || strings.Join(d.Deny, "|") != strings.Join(tc.deny, "|") || strings.Join(d.Warn, "|") != strings.Join(tc.warn, "|") || d.Error != "" {
				t.Fatalf("decision %+v, want allowed %v, deny %q, warn %q", d, tc.allowed, tc.deny, tc.warn)
			}
		})
	}
}

// Every field of the documented input reaches the module.
func TestInputFields(t *testing.T) {
	p := compile(t, `package t
allow if {
	input.apiVersion == "gatehouse.dev/input/v1alpha1"
	input.request.operation == "CREATE"
	input.request.namespace == "team"
	input.request.kind.kind == "Pod"
	input.object.metadata.labels.app == "web"
	input.image.field == "containers"
	input.image.container == "app"
	input.image.digest == concat("", ["sha256:", concat("", [x | some i in numbers.range(1, 64); x := "a"])])
	count(input.image.signatures) == 1
	input.image.signatures[0].keyID == "sha256:k"
}
`)
	in := input("registry.example.com/app", "v1", true)
	in.Image.Signatures = []verify.Signature{{Authority: "p/ci", Type: verify.TypeCosignLegacy, KeyID: "sha256:k"}}
	if d := eval(t, p, in); !d.Allowed() {
		t.Fatalf("decision %+v", d)
	}
}

// A module that reaches no decision denies, with the reason.
func TestNoDecisionDenies(t *testing.T) {
	tests := []struct {
		name, module, want string
	}{
		{name: "allow undefined", module: "package t\nallow if input.nothing\n", want: "allow is undefined"},
		{name: "allow not a boolean", module: "package t\nallow := \"yes\"\n", want: "allow is string, want a boolean"},
		{name: "deny not a set", module: "package t\nallow := true\ndeny := \"no\"\n", want: "deny is string, want a set of strings"},
		{name: "deny holds numbers", module: "package t\nallow := true\ndeny contains 1\n", want: "deny holds a json.Number, want strings"},
		{name: "runtime error", module: "package t\nallow if to_number(\"x\") > 1\n", want: "evaluation failed"},
		{name: "conflict", module: "package t\nallow := true if input.request.namespace == \"team\"\nallow := false if input.request.dryRun == false\n", want: "evaluation failed"},
		{name: "endless", module: "package t\nallow if count([x | some x in numbers.range(1, 100000000)]) > 0\n", want: "did not finish within"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := rego.Compile(context.Background(), "t.rego", tc.module, rego.Options{Timeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			d := eval(t, p, input("registry.example.com/app", "v1", true))
			if d.Allowed() || !strings.Contains(d.Error, tc.want) {
				t.Fatalf("decision %+v, want a denial with an error containing %q", d, tc.want)
			}
		})
	}
}

// Modules that could not be trusted to decide are refused at load.
func TestCompileRefuses(t *testing.T) {
	tests := []struct {
		name, module, want string
	}{
		{name: "syntax", module: "package t\nallow if {", want: "t.rego:"},
		{name: "Rego v0 syntax", module: "package t\ndefault allow = false\nallow { true }\n", want: "rego_parse_error"},
		{name: "no allow rule", module: "package t\ndeny contains \"x\" if true\n", want: "defines no allow rule"},
		{name: "network", module: "package t\nallow if http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1\"}).status_code == 200\n", want: "undefined function http.send"},
		{name: "DNS", module: "package t\nallow if net.lookup_ip_addr(\"example.com\")\n", want: "undefined function net.lookup_ip_addr"},
		{name: "host environment", module: "package t\nallow if opa.runtime().env.HOME\n", want: "undefined function opa.runtime"},
		{name: "local files through a schema", module: "package t\nallow if json.match_schema({}, {\"$ref\": \"file:///etc/passwd\"})[0]\n", want: "undefined function json.match_schema"},
		{name: "local files through a schema check", module: "package t\nallow if json.verify_schema({\"$ref\": \"file:///dev/zero\"})[0]\n", want: "undefined function json.verify_schema"},
		{name: "too large", module: "package t\nallow := true\n#" + strings.Repeat("x", rego.MaxModuleBytes), want: "limit is"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rego.Compile(context.Background(), "t.rego", tc.module, rego.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// Messages are capped, so a module cannot flood the response.
func TestMessagesCapped(t *testing.T) {
	p := compile(t, "package t\nallow := true\ndeny contains sprintf(\"m%03d\", [i]) if some i in numbers.range(1, 100)\n")
	d := eval(t, p, input("registry.example.com/app", "v1", true))
	if len(d.Deny) != rego.MaxMessages+1 || d.Deny[rego.MaxMessages] != "... and 68 more" {
		t.Fatalf("%d messages, last %q", len(d.Deny), d.Deny[len(d.Deny)-1])
	}
}

func BenchmarkEval(b *testing.B) {
	p, err := rego.Compile(context.Background(), "b.rego", registries, rego.Options{})
	if err != nil {
		b.Fatal(err)
	}
	in := input("registry.example.com/app", "v1", true)
	b.ReportAllocs()
	for b.Loop() {
		v, err := in.Value()
		if err != nil {
			b.Fatal(err)
		}
		if d := p.Eval(context.Background(), v); !d.Allowed() {
			b.Fatal(d)
		}
	}
}

// A fixed clock makes time-dependent modules deterministic.
func TestClock(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	p, err := rego.Compile(context.Background(), "clock.rego", "package c\nallow if time.now_ns() == time.parse_rfc3339_ns(\"2026-12-06T12:00:00Z\")\n",
		rego.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if d := eval(t, p, input("registry.example.com/app", "v1", true)); !d.Allowed() {
		t.Fatalf("decision %+v", d)
	}
}
