package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// Every relative link in README.md and docs/*.md points at a file or
// directory that exists, and every #anchor into a markdown file at a
// heading it has.
func TestRelativeLinks(t *testing.T) {
	total := 0
	for _, file := range markdownFiles(t) {
		prose, _ := splitMarkdown(readFile(t, file))
		for i, line := range strings.Split(prose, "\n") {
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				total++
				where := file + ":" + strconv.Itoa(i+1)
				path, anchor, _ := strings.Cut(target, "#")
				if strings.HasPrefix(path, "/") {
					t.Errorf("%s: link %q is absolute; make it relative", where, target)
					continue
				}
				resolved := file
				if path != "" {
					resolved = filepath.Join(filepath.Dir(file), path)
					if _, err := os.Stat(resolved); err != nil {
						t.Errorf("%s: link %q: %v", where, target, err)
						continue
					}
				}
				if anchor != "" && strings.HasSuffix(resolved, ".md") && !headingAnchors(t, resolved)[anchor] {
					t.Errorf("%s: link %q: %s has no heading with anchor #%s", where, target, resolved, anchor)
				}
			}
		}
	}
	if total < 20 {
		t.Errorf("found only %d relative links; is the link pattern still right?", total)
	}
}

// headingAnchors returns the anchors GitHub gives the headings of a
// markdown file: lower case, punctuation other than - and _ dropped, spaces
// turned into -.
func headingAnchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	prose, _ := splitMarkdown(readFile(t, file))
	out := map[string]bool{}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	for _, line := range strings.Split(prose, "\n") {
		text, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		slug := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(text)), ""), " ", "-")
		out[slug] = true
	}
	return out
}
