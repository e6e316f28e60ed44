// Package rego compiles the Rego modules cluster admins attach to image
// policies and evaluates them over gatehouse's typed input (Input).
//
// A module is compiled once, when its policy loads, in a sandbox: Rego v1
// syntax, no built-in that reaches the network or the host (http.send,
// net.lookup_ip_addr, opa.runtime), and strict built-in errors. Each
// evaluation has a time limit. A module must define the rule allow; an
// evaluation that leaves allow undefined, fails, or runs out of time is a
// denial, never an admission.
package rego

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"gatehouse.dev/gatehouse/policy/library"
)

// DefaultTimeout bounds one evaluation when the caller sets no limit.
const DefaultTimeout = 500 * time.Millisecond

// MaxModuleBytes caps the size of a module.
const MaxModuleBytes = 256 << 10

// MaxMessages caps how many deny or warn messages one evaluation returns.
const MaxMessages = 32

// refused are built-ins a policy may not call: they reach the network or
// the host (files, environment), or make decisions depend on more than the
// input.
// json.match_schema and json.verify_schema follow "$ref": "file://..." to
// the local disk.
var refused = []string{"http.send", "net.lookup_ip_addr", "opa.runtime", "rand.intn", "uuid.rfc4122", "trace", "json.match_schema", "json.verify_schema"}

// Program is one compiled module, safe for concurrent use.
type Program struct {
	// Package is the module's package path, e.g. "gatehouse.images".
	Package string
	// Revision is "sha256:<hex>" of the module source.
	Revision string
	query    rego.PreparedEvalQuery
	opts     Options
}

// Options configure the evaluations of a Program.
type Options struct {
	// Timeout bounds one evaluation (0: DefaultTimeout).
	Timeout time.Duration
	// Now is the clock time.now_ns reads (nil: the real clock), for
	// deterministic policy tests.
	Now func() time.Time
}

// Compile parses and compiles module (named name in messages) and returns
// a Program whose evaluations follow o.
func Compile(ctx context.Context, name, module string, o Options) (*Program, error) {
	if len(module) > MaxModuleBytes {
		return nil, fmt.Errorf("%s: the module has %d bytes, limit is %d", name, len(module), MaxModuleBytes)
	}
	m, err := ast.ParseModuleWithOpts(name, module, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := definesAllow(m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
	if strings.HasPrefix(pkg, "gatehouse.lib.") || pkg == "gatehouse.lib" {
		return nil, fmt.Errorf("%s: package %s is reserved for gatehouse's library; name the module's package otherwise", name, pkg)
	}
	lib, err := libraryModules()
	if err != nil {
		return nil, err
	}
	opts := []func(*rego.Rego){
		rego.Query("result = data." + pkg),
		rego.ParsedModule(m),
		rego.Capabilities(capabilities()),
		rego.SetRegoVersion(ast.RegoV1),
		rego.StrictBuiltinErrors(true),
	}
	for _, lm := range lib {
		opts = append(opts, rego.ParsedModule(lm.Copy())) // compilers rewrite modules: each gets its own
	}
	q, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	sum := sha256.Sum256([]byte(module))
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return &Program{Package: pkg, Revision: "sha256:" + hex.EncodeToString(sum[:]), query: q, opts: o}, nil
}

// definesAllow refuses a module without an allow rule: gatehouse must be
// able to tell a policy that decided from one that did nothing.
func definesAllow(m *ast.Module) error {
	for _, r := range m.Rules {
		if r.Head.Name.String() == "allow" || r.Head.Ref().String() == "allow" {
			return nil
		}
	}
	return errors.New("the module defines no allow rule; write `default allow := false` and the rules that make it true (deny and warn are optional sets of messages)")
}

var (
	libOnce   sync.Once
	libParsed []*ast.Module
	libErr    error
)

// libraryModules parses the shipped library (package library) once.
func libraryModules() ([]*ast.Module, error) {
	libOnce.Do(func() {
		mods := library.Modules()
		for _, name := range slices.Sorted(maps.Keys(mods)) {
			m, err := ast.ParseModuleWithOpts(name, mods[name], ast.ParserOptions{RegoVersion: ast.RegoV1})
			if err != nil {
				libErr = fmt.Errorf("gatehouse's Rego library: %w", err)
				return
			}
			libParsed = append(libParsed, m)
		}
	})
	return libParsed, libErr
}

func capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion()
	c.Builtins = slices.DeleteFunc(slices.Clone(c.Builtins), func(b *ast.Builtin) bool { return slices.Contains(refused, b.Name) })
	c.AllowNet = []string{}
	return c
}

// Decision is what a module said about one input.
type Decision struct {
	// Allow is the value of allow; false when the module failed.
	Allow bool `json:"allow"`
	// Deny and Warn are the messages of the deny and warn sets, sorted.
	Deny []string `json:"deny,omitempty"`
	Warn []string `json:"warn,omitempty"`
	// Error says why the module reached no decision: undefined allow,
	// malformed output, a runtime error or the time limit. It is a denial.
	Error string `json:"error,omitempty"`
}

// Allowed reports whether the decision admits: allow is true, no deny
// message, no error.
func (d Decision) Allowed() bool { return d.Allow && len(d.Deny) == 0 && d.Error == "" }

// Eval evaluates the program over input, a value made by Input.Value.
func (p *Program) Eval(ctx context.Context, input ast.Value) Decision {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	opts := []rego.EvalOption{rego.EvalParsedInput(input)}
	if p.opts.Now != nil {
		opts = append(opts, rego.EvalTime(p.opts.Now()))
	}
	rs, err := p.query.Eval(ctx, opts...)
	switch {
	case ctx.Err() != nil:
		return Decision{Error: fmt.Sprintf("evaluation did not finish within %s", p.opts.Timeout)}
	case err != nil:
		return Decision{Error: "evaluation failed: " + err.Error()}
	case len(rs) != 1:
		return Decision{Error: "the package produced no value"}
	}
	out, ok := rs[0].Bindings["result"].(map[string]any)
	if !ok {
		return Decision{Error: "the package produced no value"}
	}
	return decide(out)
}

func decide(out map[string]any) Decision {
	var d Decision
	allow, defined := out["allow"]
	switch v := allow.(type) {
	case bool:
		d.Allow = v
	default:
		if !defined {
			d.Error = "allow is undefined for this input (add `default allow := false`)"
		} else {
			d.Error = fmt.Sprintf("allow is %T, want a boolean", allow)
		}
	}
	var err error
	if d.Deny, err = messages(out, "deny"); err != nil {
		d.Error = err.Error()
	}
	if d.Warn, err = messages(out, "warn"); err != nil {
		d.Error = err.Error()
	}
	return d
}

// messages reads the set of strings named key; an absent key is no message.
func messages(out map[string]any, key string) ([]string, error) {
	v, ok := out[key]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any) // sets arrive as arrays
	if !ok {
		return nil, fmt.Errorf("%s is %T, want a set of strings", key, v)
	}
	msgs := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s holds a %T, want strings", key, e)
		}
		msgs = append(msgs, s)
	}
	sort.Strings(msgs)
	if len(msgs) > MaxMessages {
		msgs = append(msgs[:MaxMessages], fmt.Sprintf("... and %d more", len(msgs)-MaxMessages))
	}
	return msgs, nil
}
