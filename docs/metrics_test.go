package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse.dev/gatehouse/webhook"
)

// metricInfo is one metric as the code defines it.
type metricInfo struct {
	typ    string   // counter, gauge, histogram, summary
	labels []string // variable labels, sorted
	where  string   // file:line of the definition
}

// optsTypes maps the Opts composite literal a metric is made from to its
// type.
var optsTypes = map[string]string{
	"CounterOpts":   "counter",
	"GaugeOpts":     "gauge",
	"HistogramOpts": "histogram",
	"SummaryOpts":   "summary",
}

// definedMetrics finds every metric defined in gatehouse's non-test Go
// code: each prometheus.XxxOpts literal, with the labels of the NewXxxVec
// call around it. A name that is not a string literal fails the test rather
// than being skipped.
func definedMetrics(t *testing.T) map[string]metricInfo {
	t.Helper()
	fset := token.NewFileSet()
	metrics := map[string]metricInfo{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch name := d.Name(); {
			case path == repoRoot:
			case strings.HasPrefix(name, ".") || name == "e2e" || name == "docs" || name == "bin" || name == "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				metricFromCall(t, fset, call, metrics)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return metrics
}

func metricFromCall(t *testing.T, fset *token.FileSet, call *ast.CallExpr, into map[string]metricInfo) {
	t.Helper()
	if len(call.Args) == 0 || !isPrometheus(call.Fun) {
		return
	}
	lit, ok := call.Args[0].(*ast.CompositeLit)
	if !ok {
		return
	}
	sel, ok := lit.Type.(*ast.SelectorExpr)
	if !ok || !isPrometheus(sel) {
		return
	}
	typ, ok := optsTypes[sel.Sel.Name]
	if !ok {
		return
	}
	where := fset.Position(lit.Pos()).String()
	name := ""
	for _, e := range lit.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		switch key := kv.Key.(*ast.Ident).Name; key {
		case "Name":
			name = stringLit(t, kv.Value, where)
		case "Namespace", "Subsystem", "ConstLabels":
			t.Errorf("%s: %s is set; teach docs/metrics_test.go to read it", where, key)
		}
	}
	if name == "" {
		t.Errorf("%s: metric without a Name", where)
		return
	}
	m := metricInfo{typ: typ, where: where}
	if strings.HasSuffix(call.Fun.(*ast.SelectorExpr).Sel.Name, "Vec") { // NewXxxVec(opts, []string{...})
		if len(call.Args) < 2 {
			t.Errorf("%s: %s has no labels argument", where, name)
			return
		}
		labels, ok := call.Args[1].(*ast.CompositeLit)
		if !ok {
			t.Errorf("%s: labels of %s are not a literal; teach docs/metrics_test.go to read them", where, name)
			return
		}
		for _, l := range labels.Elts {
			m.labels = append(m.labels, stringLit(t, l, where))
		}
		slices.Sort(m.labels)
	}
	if prev, dup := into[name]; dup {
		t.Errorf("%s: metric %s is defined twice (also at %s)", where, name, prev.where)
	}
	into[name] = m
}

func isPrometheus(e ast.Expr) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == "prometheus"
}

func stringLit(t *testing.T, e ast.Expr, where string) string {
	t.Helper()
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		t.Errorf("%s: not a string literal; docs/metrics_test.go cannot read it", where)
		return ""
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		t.Errorf("%s: %v", where, err)
	}
	return s
}

// capture is a Registerer that keeps what is registered on it.
type capture struct{ collectors []prometheus.Collector }

func (c *capture) Register(col prometheus.Collector) error {
	c.collectors = append(c.collectors, col)
	return nil
}

func (c *capture) MustRegister(cols ...prometheus.Collector) {
	c.collectors = append(c.collectors, cols...)
}

func (c *capture) Unregister(prometheus.Collector) bool { return false }

var descRE = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), .*, variableLabels: \{([^}]*)\}\}$`)

// webhookMetrics returns the names and labels of the metrics
// webhook.NewMetrics registers, from the collectors' own descriptors.
func webhookMetrics(t *testing.T) map[string][]string {
	t.Helper()
	reg := &capture{}
	webhook.NewMetrics(reg)
	// Registering on a real registry too checks the metrics are valid.
	webhook.NewMetrics(prometheus.NewPedanticRegistry())
	out := map[string][]string{}
	for _, col := range reg.collectors {
		ch := make(chan *prometheus.Desc, 64)
		col.Describe(ch)
		close(ch)
		for d := range ch {
			m := descRE.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read descriptor %s", d)
			}
			name, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatal(err)
			}
			var labels []string
			if m[2] != "" {
				labels = strings.Split(m[2], ",")
			}
			slices.Sort(labels)
			out[name] = labels
		}
	}
	if len(out) == 0 {
		t.Fatal("webhook.NewMetrics registered nothing")
	}
	return out
}

// documentedMetrics reads the table of docs/metrics.md: name -> type,
// labels.
func documentedMetrics(t *testing.T, md string) map[string]metricInfo {
	t.Helper()
	rows := tableRows(md, regexp.MustCompile("^`(gatehouse_[a-z0-9_]+)`$"))
	out := map[string]metricInfo{}
	for name, rs := range rows {
		if len(rs) > 1 {
			t.Errorf("docs/metrics.md: %s has %d rows", name, len(rs))
		}
		if len(rs[0]) != 4 {
			t.Errorf("docs/metrics.md: %s row has %d cells, want 4 (metric, type, labels, meaning)", name, len(rs[0]))
			continue
		}
		labels := backticked(rs[0][2])
		slices.Sort(labels)
		out[name] = metricInfo{typ: rs[0][1], labels: labels}
	}
	return out
}

func TestEveryMetricIsDocumented(t *testing.T) {
	defined := definedMetrics(t)
	// The parse must see what NewMetrics really registers, with the same
	// labels, or it is not looking at the code that runs.
	for name, labels := range webhookMetrics(t) {
		switch d, ok := defined[name]; {
		case !ok:
			t.Errorf("webhook.NewMetrics registers %s, which the source scan did not find", name)
		case !slices.Equal(d.labels, labels):
			t.Errorf("%s: labels %v from the source, %v from the descriptor", name, d.labels, labels)
		}
	}
	for _, want := range []string{"gatehouse_policy_revision", "gatehouse_serving_certificate_expiry_timestamp_seconds"} {
		if _, ok := defined[want]; !ok {
			t.Errorf("the source scan did not find %s (cmd/gatehouse/serve.go)", want)
		}
	}

	md := readFile(t, "metrics.md")
	documented := documentedMetrics(t, md)
	for _, name := range sortedKeys(defined) {
		def := defined[name]
		doc, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("docs/metrics.md: %s (%s, %s) is missing from the table", name, def.typ, def.where)
		case doc.typ != def.typ:
			t.Errorf("docs/metrics.md: %s is a %s, the docs say %q", name, def.typ, doc.typ)
		case !slices.Equal(doc.labels, def.labels):
			t.Errorf("docs/metrics.md: %s has labels %v, the docs say %v", name, def.labels, doc.labels)
		}
	}
	for _, name := range sortedKeys(documented) {
		if _, ok := defined[name]; !ok {
			t.Errorf("docs/metrics.md documents %s, which gatehouse does not define", name)
		}
	}
}

// Every page may only name metrics that exist (histograms with their
// _bucket, _sum and _count series).
func TestDocsNameOnlyRealMetrics(t *testing.T) {
	defined := definedMetrics(t)
	re := regexp.MustCompile(`gatehouse_[a-z0-9_]*[a-z0-9]`)
	for _, file := range markdownFiles(t) {
		for i, line := range strings.Split(readFile(t, file), "\n") {
			for _, name := range re.FindAllString(line, -1) {
				if !seriesOf(defined, name) {
					t.Errorf("%s:%d: %s is not a gatehouse metric", file, i+1, name)
				}
			}
		}
	}
}

func seriesOf(defined map[string]metricInfo, name string) bool {
	if _, ok := defined[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if m, ok := defined[base]; ok && (m.typ == "histogram" || m.typ == "summary" && suffix != "_bucket") {
				return true
			}
		}
	}
	return false
}
