package docs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify"
	"gatehouse.dev/gatehouse/verify/registry"
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

// admitOnePod asks a real Admitter, configured by cfg and policies, about a
// Pod running image, and returns the decision.
func admitOnePod(t *testing.T, cfg webhook.Config, image string, policies ...policy.Object) webhook.Decision {
	t.Helper()
	v, err := verify.New(verify.Options{Registry: registry.New(registry.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	store := policy.NewStore()
	for _, p := range policies {
		if err := store.Apply(p); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Verifier, cfg.Policies = v, store
	cfg.Log = slog.New(slog.DiscardHandler)
	a, err := webhook.NewAdmitter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "app"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	req := &admissionv1.AdmissionRequest{
		UID:       "uid",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: "app", Name: "p", Operation: admissionv1.Create,
		Object: runtime.RawExtension{Raw: raw},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.Admit(ctx, req, false)
}

// brokenRegistry is a registry that answers every request with 503.
func brokenRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func publicKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Every value of the decision label that real decisions produce is
// documented, and the docs list no other.
func TestDecisionLabelValuesAreDocumented(t *testing.T) {
	host := brokenRegistry(t)
	trustHost := policy.Object{Kind: v1alpha1.KindClusterImagePolicy, Name: "p", Spec: v1alpha1.ImagePolicySpec{
		Images:      []v1alpha1.ImageGlob{{Glob: host + "/**"}},
		Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{Data: publicKeyPEM(t)}}},
	}}
	unmatched := "registry.example.com/app:v1"
	cases := []struct {
		name string
		want string
		d    webhook.Decision
	}{
		{"unmatched image, allowed", "allow", admitOnePod(t, webhook.Config{Unmatched: webhook.Allow, InfraFailure: webhook.Deny}, unmatched)},
		{"unmatched image, denied", "deny", admitOnePod(t, webhook.Config{Unmatched: webhook.Deny, InfraFailure: webhook.Deny}, unmatched)},
		{"unmatched image, warned", "warn", admitOnePod(t, webhook.Config{Unmatched: webhook.Warn, InfraFailure: webhook.Deny}, unmatched)},
		{"registry down, failing open", "fail-open", admitOnePod(t, webhook.Config{Unmatched: webhook.Deny, InfraFailure: webhook.Allow}, host+"/app:v1", trustHost)},
	}
	rows := tableRows(section(t, readFile(t, "metrics.md"), "### `decision`"), regexp.MustCompile("^`([a-z-]+)`$"))
	seen := map[string]bool{}
	for _, c := range cases {
		label := c.d.Label()
		if label != c.want {
			t.Errorf("%s: label %q, want %q (decision %+v)", c.name, label, c.want, c.d)
		}
		if r := c.d.Reason; (label == "allow") != (r == "") || (label == "fail-open" && !r.Infrastructure()) {
			t.Errorf("%s: decision %s with reason %q contradicts docs/metrics.md", c.name, label, r)
		}
		seen[label] = true
		if _, ok := rows[label]; !ok {
			t.Errorf("docs/metrics.md: decision value %q is not in the decision table", label)
		}
	}
	for value := range rows {
		if !seen[value] {
			t.Errorf("docs/metrics.md: decision value %q is documented but no decision here has it", value)
		}
	}
}

// reasonRows reads a table whose first column is `reason` and whose second
// says definitive or inconclusive.
func reasonRows(t *testing.T, file, md string) map[string][]string {
	t.Helper()
	rows := tableRows(md, regexp.MustCompile("^`([a-z-]+)`$"))
	out := map[string][]string{}
	for r, rs := range rows {
		if len(rs) != 1 {
			t.Errorf("%s: reason %s has %d rows", file, r, len(rs))
		}
		out[r] = rs[0]
	}
	return out
}

func kindOf(r verify.Reason) string {
	if r.Inconclusive() {
		return "inconclusive"
	}
	return "definitive"
}

func TestReasonsAreDocumented(t *testing.T) {
	if len(verify.Reasons) == 0 {
		t.Fatal("verify.Reasons is empty")
	}
	known := map[string]bool{}
	for _, r := range verify.Reasons {
		known[string(r)] = true
	}

	md := readFile(t, "reasons.md")
	table := reasonRows(t, "docs/reasons.md", md)
	headings := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^## `([^`]+)`$").FindAllStringSubmatch(md, -1) {
		headings[m[1]] = true
	}
	for _, r := range verify.Reasons {
		row, ok := table[string(r)]
		switch {
		case !headings[string(r)]:
			t.Errorf("docs/reasons.md: no section \"## `%s`\"", r)
		case !ok || len(row) < 3:
			t.Errorf("docs/reasons.md: %s is missing from the table", r)
		case row[1] != kindOf(r):
			t.Errorf("docs/reasons.md: %s is %s, the table says %q", r, kindOf(r), row[1])
		case row[2] != map[bool]string{true: "yes", false: "no"}[r.Infrastructure()]:
			t.Errorf("docs/reasons.md: %s may fail open: %v, the table says %q", r, r.Infrastructure(), row[2])
		}
	}
	for r := range headings {
		if !known[r] {
			t.Errorf("docs/reasons.md: section %q is not a reason in verify.Reasons", r)
		}
	}
	for r := range table {
		if !known[r] {
			t.Errorf("docs/reasons.md: table row %q is not a reason in verify.Reasons", r)
		}
	}

	reasonSection := section(t, readFile(t, "metrics.md"), "### `reason`")
	if !regexp.MustCompile("(?m)^\\| `\"\"` \\|").MatchString(reasonSection) {
		t.Error("docs/metrics.md: the reason table has no row for the empty reason `\"\"` of allowed requests")
	}
	metrics := reasonRows(t, "docs/metrics.md", reasonSection)
	for _, r := range verify.Reasons {
		row, ok := metrics[string(r)]
		switch {
		case !ok || len(row) < 3:
			t.Errorf("docs/metrics.md: reason %s is missing from the reason table", r)
		case row[1] != kindOf(r):
			t.Errorf("docs/metrics.md: %s is %s, the reason table says %q", r, kindOf(r), row[1])
		case r.Infrastructure() != strings.HasPrefix(row[2], "yes"):
			t.Errorf("docs/metrics.md: %s may fail open: %v, the reason table says %q", r, r.Infrastructure(), row[2])
		}
	}
	for r := range metrics {
		if !known[r] {
			t.Errorf("docs/metrics.md: reason table row %q is not a reason in verify.Reasons", r)
		}
	}
}
