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

// binary is a command of this module, built once per test run.
type binary struct {
	pkg  string
	once sync.Once
	path string
	err  error
}

var (
	gatehouseBin = &binary{pkg: "gatehouse.dev/gatehouse/cmd/gatehouse"}
	migrateBin   = &binary{pkg: "gatehouse.dev/gatehouse/cmd/gatehouse-migrate"}
)

// build builds the binary once per test run.
func (b *binary) build(t *testing.T) string {
	t.Helper()
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-docs-")
		if err != nil {
			b.err = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		b.path = filepath.Join(dir, filepath.Base(b.pkg))
		build := exec.Command("go", "build", "-o", b.path, b.pkg)
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building %s: %v\n%s", b.pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// serveFlags parses `gatehouse serve -h` of the built binary: the flags a
// user actually gets, with the defaults they actually have.
func serveFlags(t *testing.T) map[string]flagInfo {
	t.Helper()
	return helpFlags(t, gatehouseBin, 10, "serve", "-h")
}

// cliFlags parses the usage of gatehouse verify, test and record, the
// flags docs/cli.md documents; a flag two commands share must have one
// default.
func cliFlags(t *testing.T) map[string]flagInfo {
	t.Helper()
	out := map[string]flagInfo{}
	for _, cmd := range []string{"verify", "test", "record"} {
		for name, f := range helpFlags(t, gatehouseBin, 1, cmd, "-h") {
			if prev, ok := out[name]; ok && prev.def != f.def {
				t.Errorf("--%s: default %q in one command, %q in %s", name, prev.def, f.def, cmd)
			}
			out[name] = f
		}
	}
	return out
}

// migrateFlags parses `gatehouse-migrate -h`, the flags docs/migrate.md
// documents.
func migrateFlags(t *testing.T) map[string]flagInfo {
	t.Helper()
	return helpFlags(t, migrateBin, 2, "-h")
}

// helpFlags runs the built binary with args asking for its usage and parses
// the flags it prints, at least atLeast of them.
func helpFlags(t *testing.T, b *binary, atLeast int, args ...string) map[string]flagInfo {
	t.Helper()
	bin := b.build(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	flags := parseFlagUsage(t, stderr.String())
	if len(flags) < atLeast {
		t.Fatalf("parsed only %d flags from %s %s:\n%s", len(flags), filepath.Base(bin), strings.Join(args, " "), stderr.String())
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

// documentedFlags reads the flag table of a docs page: flag name -> default
// cell, with the code quotes removed and `""` read as the empty string.
func documentedFlags(t *testing.T, page string) map[string]string {
	t.Helper()
	rows := tableRows(readFile(t, page), regexp.MustCompile("^`--([a-z0-9-]+)`$"))
	out := map[string]string{}
	for name, rs := range rows {
		if len(rs) > 1 {
			t.Errorf("docs/%s: --%s has %d rows", page, name, len(rs))
		}
		if len(rs[0]) != 3 {
			t.Errorf("docs/%s: --%s row has %d cells, want 3 (flag, default, meaning)", page, name, len(rs[0]))
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

// Each binary's flags are documented in its page's table, with their
// defaults: gatehouse serve in flags.md, gatehouse-migrate in migrate.md.
func TestEveryFlagIsDocumentedWithItsDefault(t *testing.T) {
	for page, command := range map[string]struct {
		name  string
		flags func(*testing.T) map[string]flagInfo
	}{
		"flags.md":   {"gatehouse serve", serveFlags},
		"migrate.md": {"gatehouse-migrate", migrateFlags},
		"cli.md":     {"gatehouse verify, test and record", cliFlags},
	} {
		flags := command.flags(t)
		docs := documentedFlags(t, page)
		for _, name := range sortedKeys(flags) {
			got, ok := docs[name]
			switch {
			case !ok:
				t.Errorf("docs/%s: --%s is missing (default %q)", page, name, flags[name].def)
			case got != flags[name].def:
				t.Errorf("docs/%s: --%s default is %q, %s -h says %q", page, name, got, command.name, flags[name].def)
			}
		}
		for _, name := range sortedKeys(docs) {
			if _, ok := flags[name]; !ok {
				t.Errorf("docs/%s documents --%s, which %s does not have", page, name, command.name)
			}
		}
	}
}

// otherTools are flags the docs mention that are not gatehouse's: cosign's (sign, attest), oras's,
// kubectl's, and the placeholder in "--name=value".
var otherTools = map[string]bool{"artifact-type": true, "type": true, "predicate": true, "key": true, "tlog-upload": true, "image": true, "name": true, "recursive": true, "from-file": true, "new-bundle-format": true, "certificate": true, "certificate-chain": true, "rekor-entry-type": true}

// Prose in every page may only name flags that exist, so a renamed flag
// cannot live on in an explanation. docs/migrate.md may also name the flags
// of gatehouse-migrate, and docs/cli.md those of gatehouse verify, test and
// record, which they document; no other page may.
func TestDocsNameOnlyRealFlags(t *testing.T) {
	flags, migrate, cli := serveFlags(t), migrateFlags(t), cliFlags(t)
	re := regexp.MustCompile(`(?:^|[\s(\x60])--([a-z][a-z0-9-]*)`)
	for _, file := range markdownFiles(t) {
		for i, line := range strings.Split(readFile(t, file), "\n") {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				_, serve := flags[m[1]]
				_, migrateFlag := migrate[m[1]]
				_, cliFlag := cli[m[1]]
				switch {
				case serve || otherTools[m[1]] || (cliFlag && file == "cli.md"):
				case file != "migrate.md":
					t.Errorf("%s:%d: --%s is not a flag of gatehouse serve", file, i+1, m[1])
				case !migrateFlag:
					t.Errorf("%s:%d: --%s is not a flag of gatehouse serve or gatehouse-migrate", file, i+1, m[1])
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
