package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// exampleArgs are the flags docs/migrate.md runs its example with.
var exampleArgs = []string{"--trusted-root-configmap", "gatehouse-system/sigstore-trusted-root"}

// Every example under docs/policy-controller converts, gatehouse loads the
// result through its own decoder and compiler, and docs/migrate.md shows
// the input, the command, the output and the report as they are.
func TestDocumentedExamples(t *testing.T) {
	files, err := filepath.Glob("../../docs/policy-controller/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in docs/policy-controller: %v", err)
	}
	md, err := os.ReadFile("../../docs/migrate.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := fencedBlocks(string(md))
	cluster := fakeCluster{trustedRoot: verifytest.NewSigstore(t).TrustedRoot(t, verifytest.RootOptions{})}
	for _, file := range files {
		input, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := run(append(exampleArgs, file), nil, &stdout, &stderr)
		if code == exitBadInput {
			t.Fatalf("%s: exit code %d:\n%s", file, code, stderr.String())
		}
		if said := fmt.Sprintf("It exits with status %d.", code); !bytes.Contains(md, []byte(said)) {
			t.Errorf("docs/migrate.md does not say %q", said)
		}
		objs, err := policy.ReadDocuments(stdout.Bytes())
		if err != nil || len(objs) == 0 {
			t.Fatalf("%s: gatehouse reads %d policies from the output: %v\n%s", file, len(objs), err, stdout.String())
		}
		for _, o := range objs {
			if _, err := policy.CompileWith(context.Background(), o, cluster); err != nil {
				t.Errorf("%s: gatehouse refuses the converted policy: %v", file, err)
			}
		}
		command := "gatehouse-migrate " + strings.Join(exampleArgs, " ") + " " + strings.TrimPrefix(file, "../../")
		for what, want := range map[string]block{
			"the input":   {"yaml", string(input)},
			"the output":  {"yaml", stdout.String()},
			"the report":  {"text", stderr.String()},
			"the command": {"sh", command + " > gatehouse-policies.yaml\n"},
		} {
			if !blocks[want.lang+"\x01"+want.text] {
				t.Errorf("docs/migrate.md has no %s block with %s of %s:\n%s", want.lang, what, file, want.text)
			}
		}
	}
}

type block struct{ lang, text string }

// fencedBlocks returns the fenced code blocks of a markdown page, each as
// its language, "\x01" and its text.
func fencedBlocks(md string) map[string]bool {
	out := map[string]bool{}
	var cur *block
	for _, line := range strings.SplitAfter(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{lang: strings.TrimPrefix(trimmed, "```")}
		case cur != nil && trimmed == "```":
			out[cur.lang+"\x01"+cur.text] = true
			cur = nil
		case cur != nil:
			cur.text += line
		}
	}
	return out
}

// fakeCluster stands in for the Secrets and ConfigMaps converted policies
// name: every Secret holds a public key, every ConfigMap a trusted root,
// under gatehouse's default key names.
type fakeCluster struct{ trustedRoot string }

func (fakeCluster) SecretData(context.Context, string, string) (map[string][]byte, error) {
	return map[string][]byte{policy.DefaultSecretKey: []byte(exampleKey)}, nil
}

func (c fakeCluster) ConfigMapData(context.Context, string, string) (map[string]string, error) {
	return map[string]string{policy.DefaultTrustedRootKey: c.trustedRoot}, nil
}

const exampleKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGbuEyesJrt4DK/kttAwUdKNGLwws
T2JAEyp8xB9RaG5IM4+pqmIYwslfIr6BRuwPf6vaVbjKXn0l+hE2TWtVqg==
-----END PUBLIC KEY-----
`
