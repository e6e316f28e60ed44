package docs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// flagInfo is one flag as `gatehouse serve -h` prints it.
type flagInfo struct {
	typ string // "string", "duration", "int", "value"...; "" for booleans
	def string // the default, unquoted; the zero value's text when not printed
}

var gatehouseBin struct {
	once sync.Once
	path string
	err  error
}

// buildGatehouse builds the gatehouse binary once per test run.
func buildGatehouse(t *testing.T) string {
	t.Helper()
	gatehouseBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-docs-")
		if err != nil {
			gatehouseBin.err = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		gatehouseBin.path = filepath.Join(dir, "gatehouse")
		build := exec.Command("go", "build", "-o", gatehouseBin.path, "gatehouse.dev/gatehouse/cmd/gatehouse")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			gatehouseBin.err = fmt.Errorf("building gatehouse: %v\n%s", err, out)
		}
	})
	if gatehouseBin.err != nil {
		t.Fatal(gatehouseBin.err)
	}
	return gatehouseBin.path
}

// serveFlags parses `gatehouse serve -h` of the built binary: the flags a
// user actually gets, with the defaults they actually have.
func serveFlags(t *testing.T) map[string]flagInfo {
	t.Helper()
	bin := buildGatehouse(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "-h")
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("gatehouse serve -h: %v", err)
	}
	flags := parseFlagUsage(t, stderr.String())
	if len(flags) < 10 {
		t.Fatalf("parsed only %d flags from gatehouse serve -h:\n%s", len(flags), stderr.String())
	}
	return flags
}

// parseFlagUsage reads the output of flag.PrintDefaults: a line "  -name type"
// per flag, then its usage on lines starting with "    \t", the last ending
// in "(default ...)" when the default is not the zero value.
func parseFlagUsage(t *testing.T, out string) map[string]flagInfo {
	t.Helper()
	header := regexp.MustCompile(`^  -([a-z0-9][a-z0-9-]*)(?: (\S+))?$`)
	flags := map[string]flagInfo{}
	usage := map[string]string{}
	var cur string
	for _, line := range strings.Split(out, "\n") {
		if m := header.FindStringSubmatch(line); m != nil {
			cur = m[1]
			flags[cur] = flagInfo{typ: m[2]}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "    \t"); ok && cur != "" {
			usage[cur] += rest + "\n"
		}
	}
	def := regexp.MustCompile(`\(default (.*)\)\n$`)
	for name, f := range flags {
		m := def.FindStringSubmatch(usage[name])
		if m == nil {
			f.def = zeroText(f.typ)
		} else if f.def = m[1]; strings.HasPrefix(f.def, `"`) {
			s, err := strconv.Unquote(f.def)
			if err != nil {
				t.Fatalf("flag -%s: default %s: %v", name, f.def, err)
			}
			f.def = s
		}
		flags[name] = f
	}
	return flags
}

// zeroText is how the docs write a default the flag package does not print.
func zeroText(typ string) string {
	switch typ {
	case "duration":
		return "0s"
	case "int", "int64", "uint", "uint64", "float64":
		return "0"
	case "":
		return "false"
	}
	return "" // string and list values
}

// documentedFlags reads the table of docs/flags.md: flag name -> default
// cell, with the code quotes removed and `""` read as the empty string.
func documentedFlags(t *testing.T) map[string]string {
	t.Helper()
	rows := tableRows(readFile(t, "flags.md"), regexp.MustCompile("^`--([a-z0-9-]+)`$"))
	out := map[string]string{}
	for name, rs := range rows {
		if len(rs) > 1 {
			t.Errorf("docs/flags.md: --%s has %d rows", name, len(rs))
		}
		if len(rs[0]) != 3 {
			t.Errorf("docs/flags.md: --%s row has %d cells, want 3 (flag, default, meaning)", name, len(rs[0]))
			continue
		}
		cell := strings.TrimSpace(rs[0][1])
		if s, ok := strings.CutPrefix(cell, "`"); ok {
			cell = strings.TrimSuffix(s, "`")
		}
		if cell == `""` {
			cell = ""
		}
		out[name] = cell
	}
	return out
}

func TestEveryFlagIsDocumentedWithItsDefault(t *testing.T) {
	flags := serveFlags(t)
	docs := documentedFlags(t)
	for _, name := range sortedKeys(flags) {
		got, ok := docs[name]
		switch {
		case !ok:
			t.Errorf("docs/flags.md: --%s is missing (default %q)", name, flags[name].def)
		case got != flags[name].def:
			t.Errorf("docs/flags.md: --%s default is %q, gatehouse serve -h says %q", name, got, flags[name].def)
		}
	}
	for _, name := range sortedKeys(docs) {
		if _, ok := flags[name]; !ok {
			t.Errorf("docs/flags.md documents --%s, which gatehouse serve does not have", name)
		}
	}
}

// otherTools are flags the docs mention that are not gatehouse's: cosign's,
// kubectl's, and the placeholder in "--name=value".
var otherTools = map[string]bool{"key": true, "tlog-upload": true, "image": true, "name": true, "recursive": true, "from-file": true, "new-bundle-format": true, "certificate": true, "certificate-chain": true}

// Prose in every page may only name flags that exist, so a renamed flag
// cannot live on in an explanation.
func TestDocsNameOnlyRealFlags(t *testing.T) {
	flags := serveFlags(t)
	re := regexp.MustCompile(`(?:^|[\s(\x60])--([a-z][a-z0-9-]*)`)
	for _, file := range markdownFiles(t) {
		for i, line := range strings.Split(readFile(t, file), "\n") {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				if _, ok := flags[m[1]]; !ok && !otherTools[m[1]] {
					t.Errorf("%s:%d: --%s is not a flag of gatehouse serve", file, i+1, m[1])
				}
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
