package docs

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The alert rules and the dashboard name only metrics gatehouse defines,
// selected by labels those metrics have. (manifests/monitoring/check parses
// them with Prometheus' own parsers.)
func TestMonitoringUsesRealMetrics(t *testing.T) {
	defined := definedMetrics(t)
	name := regexp.MustCompile(`gatehouse_[a-z0-9_]*[a-z0-9]`)
	selector := regexp.MustCompile(`(gatehouse_[a-z0-9_]*[a-z0-9])\{([^}]*)\}`)
	label := regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)`)
	for _, file := range []string{"prometheusrule.yaml", "dashboard.json"} {
		text := readFile(t, filepath.Join("..", "manifests", "monitoring", file))
		names := name.FindAllString(text, -1)
		if len(names) < 5 {
			t.Errorf("%s names %d metrics", file, len(names))
		}
		for _, n := range names {
			if !seriesOf(defined, n) {
				t.Errorf("%s: %s is not a gatehouse metric", file, n)
			}
		}
		for _, m := range selector.FindAllStringSubmatch(text, -1) {
			base := m[1]
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(base, suffix); ok && seriesOf(defined, base) {
					base = b
				}
			}
			for _, l := range label.FindAllStringSubmatch(m[2], -1) {
				if l[1] != "le" && !slices.Contains(defined[base].labels, l[1]) {
					t.Errorf("%s: %s has no label %q (it has %v)", file, base, l[1], defined[base].labels)
				}
			}
		}
	}
}
