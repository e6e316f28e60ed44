package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/policy/migrate"
)

// Config is everything gatehouse-migrate reads from its command line,
// validated once.
type Config struct {
	// Files are the inputs; "-" is standard input.
	Files   []string
	Options migrate.Options
}

const usage = `usage: gatehouse-migrate [flags] [file ...]

Converts sigstore policy-controller ClusterImagePolicies (YAML or JSON,
policy.sigstore.dev/v1alpha1 or v1beta1; standard input without files or
for "-") into gatehouse ClusterImagePolicies on standard output, and reports
on standard error what mapped, what changed meaning and what was dropped.

Exit status: 0 every policy converted exactly; 1 bad input or usage,
nothing written; 2 converted, but something was dropped or changed meaning.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("gatehouse-migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	roots := trustedRoots{opts: &c.Options}
	fs.StringVar(&c.Options.SecretNamespace, "secret-namespace", migrate.DefaultSecretNamespace, "namespace policy-controller runs in: where it reads the Secrets of key.secretRef")
	fs.Var(&roots, "trusted-root-configmap", "ConfigMap holding a trusted_root.json, as namespace/name[/key]: Sigstore's public instance for keyless authorities without trustRootRef, or, written TRUSTROOT=namespace/name[/key], the policy-controller TrustRoot of that name (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if !dnsLabel.MatchString(c.Options.SecretNamespace) {
		return nil, fmt.Errorf("--secret-namespace %q: not a namespace name", c.Options.SecretNamespace)
	}
	c.Files = fs.Args()
	if len(c.Files) == 0 {
		c.Files = []string{"-"}
	}
	return c, nil
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// trustedRoots is the --trusted-root-configmap flag.
type trustedRoots struct {
	opts *migrate.Options
	seen []string
}

func (t *trustedRoots) String() string {
	if t == nil {
		return ""
	}
	return strings.Join(t.seen, ",")
}

func (t *trustedRoots) Set(s string) error {
	name, ref, named := strings.Cut(s, "=")
	if !named {
		name, ref = "", s
	}
	cm, err := parseConfigMapRef(ref)
	if err != nil {
		return err
	}
	switch _, dup := t.opts.TrustRoots[name]; {
	case name == "" && t.opts.PublicTrustedRoot != nil:
		return fmt.Errorf("%q: the public instance's ConfigMap is already given", s)
	case name == "":
		t.opts.PublicTrustedRoot = &cm
	case dup:
		return fmt.Errorf("%q: TrustRoot %s is already given", s, name)
	default:
		if t.opts.TrustRoots == nil {
			t.opts.TrustRoots = map[string]v1alpha1.ConfigMapKeyRef{}
		}
		t.opts.TrustRoots[name] = cm
	}
	t.seen = append(t.seen, s)
	return nil
}

// parseConfigMapRef reads namespace/name[/key].
func parseConfigMapRef(s string) (v1alpha1.ConfigMapKeyRef, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || !dnsLabel.MatchString(parts[0]) || parts[1] == "" {
		return v1alpha1.ConfigMapKeyRef{}, fmt.Errorf("%q: want namespace/name or namespace/name/key", s)
	}
	ref := v1alpha1.ConfigMapKeyRef{Namespace: parts[0], Name: parts[1], Key: "trusted_root.json"}
	if len(parts) == 3 && parts[2] != "" {
		ref.Key = parts[2]
	}
	return ref, nil
}
