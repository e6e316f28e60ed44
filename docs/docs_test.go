// Package docs holds gatehouse's documentation and the tests that keep it
// true: every flag, metric and reason the code has is documented, nothing
// documented is missing from the code, every policy example loads, and every
// relative link resolves.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// cleanups run after every test, for resources shared between tests.
var cleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// repoRoot is the module root, seen from this package's directory (the
// working directory of go test).
const repoRoot = ".."

// markdownFiles returns README.md and every docs/*.md, as paths relative to
// the working directory.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(repoRoot, "README.md")}, files...)
	for _, want := range []string{"policy-api.md", "flags.md", "metrics.md", "reasons.md", "architecture.md", "testing.md"} {
		if !slices.Contains(files, want) {
			t.Errorf("docs/%s is missing", want)
		}
	}
	return files
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeBlock is one fenced block of a markdown file.
type codeBlock struct {
	lang string
	text string
	line int // of the opening fence
}

// splitMarkdown returns the prose of a markdown file, with fenced blocks
// blanked out (line numbers kept), and the fenced blocks themselves.
func splitMarkdown(md string) (prose string, blocks []codeBlock) {
	var out []string
	var cur *codeBlock
	for i, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &codeBlock{lang: strings.TrimPrefix(trimmed, "```"), line: i + 1}
			out = append(out, "")
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
			out = append(out, "")
		case cur != nil:
			// Blocks inside list items are indented; keep YAML's own
			// indentation relative to the fence.
			cur.text += line + "\n"
			out = append(out, "")
		default:
			out = append(out, line)
		}
	}
	for i := range blocks {
		blocks[i].text = dedent(blocks[i].text)
	}
	return strings.Join(out, "\n"), blocks
}

// dedent removes the indentation common to every non-empty line.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if common < 0 || n < common {
			common = n
		}
	}
	if common <= 0 {
		return s
	}
	for i, l := range lines {
		if len(l) >= common {
			lines[i] = l[common:]
		} else {
			lines[i] = strings.TrimLeft(l, " ")
		}
	}
	return strings.Join(lines, "\n")
}

// tableRows returns the cells of every markdown table row in md whose first
// cell matches first, keyed by the first submatch of first.
func tableRows(md string, first *regexp.Regexp) map[string][][]string {
	rows := map[string][][]string{}
	for _, line := range strings.Split(md, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if m := first.FindStringSubmatch(cells[0]); m != nil {
			rows[m[1]] = append(rows[m[1]], cells)
		}
	}
	return rows
}

// section returns the part of md under the heading line exactly equal to
// heading, up to the next heading of the same or a higher level.
func section(t *testing.T, md, heading string) string {
	t.Helper()
	level := len(heading) - len(strings.TrimLeft(heading, "#"))
	lines := strings.Split(md, "\n")
	for i, l := range lines {
		if l != heading {
			continue
		}
		var out []string
		for _, l := range lines[i+1:] {
			if n := len(l) - len(strings.TrimLeft(l, "#")); n > 0 && n <= level && strings.HasPrefix(l[n:], " ") {
				break
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
	t.Fatalf("no heading %q", heading)
	return ""
}

// backticked returns the `code` spans of s.
func backticked(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile("`([^`]*)`").FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}
