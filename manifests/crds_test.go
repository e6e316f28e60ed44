package manifests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// crd is the part of apiextensions.k8s.io/v1 CustomResourceDefinition that the
// base uses; it is decoded strictly, so a keyword it lacks fails the test.
type crd struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Group string `json:"group"`
		Scope string `json:"scope"`
		Names struct {
			Kind       string   `json:"kind"`
			ListKind   string   `json:"listKind"`
			Plural     string   `json:"plural"`
			Singular   string   `json:"singular"`
			ShortNames []string `json:"shortNames"`
		} `json:"names"`
		Versions []crdVersion `json:"versions"`
	} `json:"spec"`
}

type crdVersion struct {
	Name                     string `json:"name"`
	Served                   bool   `json:"served"`
	Storage                  bool   `json:"storage"`
	AdditionalPrinterColumns []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		JSONPath string `json:"jsonPath"`
	} `json:"additionalPrinterColumns"`
	Subresources map[string]any `json:"subresources"`
	Schema       struct {
		OpenAPIV3Schema schema `json:"openAPIV3Schema"`
	} `json:"schema"`
}

// schema is the subset of OpenAPI v3 the CRDs use.
type schema struct {
	Description string            `json:"description"`
	Type        string            `json:"type"`
	Required    []string          `json:"required"`
	Properties  map[string]schema `json:"properties"`
	Items       *schema           `json:"items"`
	Enum        []string          `json:"enum"`
	MinItems    *int64            `json:"minItems"`
	MaxItems    *int64            `json:"maxItems"`
	MinLength   *int64            `json:"minLength"`
	MaxLength   *int64            `json:"maxLength"`
	Pattern     string            `json:"pattern"`
	Default     any               `json:"default"`
	Format      string            `json:"format"`
	Minimum     *int64            `json:"minimum"`
	ListType    string            `json:"x-kubernetes-list-type"`
	ListMapKeys []string          `json:"x-kubernetes-list-map-keys"`
	Validations []struct {
		Rule    string `json:"rule"`
		Message string `json:"message"`
	} `json:"x-kubernetes-validations"`
}

func TestCRDs(t *testing.T) {
	crds := map[string]crd{}
	for _, c := range decodeAll[crd](t, loadDocuments(t), "CustomResourceDefinition") {
		crds[c.Name] = c
	}
	docs := goDocs(t)
	tests := []struct {
		name, kind, plural, singular, short, scope string
		goType                                     reflect.Type
	}{
		{"cluster", v1alpha1.KindClusterImagePolicy, "clusterimagepolicies", "clusterimagepolicy", "cip", "Cluster", reflect.TypeFor[v1alpha1.ClusterImagePolicy]()},
		{"namespaced", v1alpha1.KindImagePolicy, "imagepolicies", "imagepolicy", "imgpol", "Namespaced", reflect.TypeFor[v1alpha1.ImagePolicy]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := crds[tt.plural+"."+v1alpha1.Group]
			if !ok {
				t.Fatalf("no CRD %s.%s", tt.plural, v1alpha1.Group)
			}
			n := c.Spec.Names
			if c.Spec.Group != v1alpha1.Group || c.Spec.Scope != tt.scope || n.Kind != tt.kind || n.ListKind != tt.kind+"List" ||
				n.Plural != tt.plural || n.Singular != tt.singular || !slices.Equal(n.ShortNames, []string{tt.short}) {
				t.Errorf("group, scope or names wrong: %s %s %+v", c.Spec.Group, c.Spec.Scope, n)
			}
			if len(c.Spec.Versions) != 1 {
				t.Fatalf("want one version, found %d", len(c.Spec.Versions))
			}
			v := c.Spec.Versions[0]
			if v.Name != v1alpha1.Version || !v.Served || !v.Storage {
				t.Errorf("version %s served %v storage %v", v.Name, v.Served, v.Storage)
			}
			if _, ok := v.Subresources["status"]; !ok || len(v.Subresources) != 1 {
				t.Errorf("subresources %v, want status only: gatehouse writes the status", v.Subresources)
			}
			var cols []string
			for _, col := range v.AdditionalPrinterColumns {
				cols = append(cols, col.Name+" "+col.JSONPath)
			}
			if want := []string{"Mode .spec.mode", `Ready .status.conditions[?(@.type=="Ready")].status`, "Non-compliant .status.nonCompliantPods", "Age .metadata.creationTimestamp"}; !slices.Equal(cols, want) {
				t.Errorf("printer columns %v, want %v", cols, want)
			}
			checkSchema(t, "", tt.goType, docs[tt.goType.Name()], v.Schema.OpenAPIV3Schema, docs)
			checkSpecRules(t, v.Schema.OpenAPIV3Schema.Properties["spec"])
			conditions := v.Schema.OpenAPIV3Schema.Properties["status"].Properties["conditions"]
			if conditions.ListType != "map" || !slices.Equal(conditions.ListMapKeys, []string{"type"}) {
				t.Errorf("status.conditions: list type %q keyed %v, want a map keyed by type", conditions.ListType, conditions.ListMapKeys)
			}
		})
	}
}

// checkSchema walks a Go type and its schema together: the same JSON field
// names, required exactly where omitempty is absent, the same types, and the
// Go doc comments as descriptions.
func checkSchema(t *testing.T, path string, typ reflect.Type, doc string, s schema, docs map[string]string) {
	t.Helper()
	typ = deref(typ)
	if got, want := normalize(s.Description), normalize(doc); got != want {
		t.Errorf("%s: description %q, want the doc comment %q", path, got, want)
	}
	if typ == reflect.TypeFor[metav1.Time]() {
		expectType(t, path, s, "string")
		if s.Format != "date-time" {
			t.Errorf("%s: format %q, want date-time", path, s.Format)
		}
		return
	}
	switch typ.Kind() {
	case reflect.String:
		expectType(t, path, s, "string")
	case reflect.Bool:
		expectType(t, path, s, "boolean")
	case reflect.Int32:
		expectType(t, path, s, "integer")
		if s.Format != "int32" {
			t.Errorf("%s: format %q, want int32", path, s.Format)
		}
	case reflect.Int64:
		expectType(t, path, s, "integer")
		if s.Format != "int64" {
			t.Errorf("%s: format %q, want int64", path, s.Format)
		}
	case reflect.Slice:
		expectType(t, path, s, "array")
		if s.Items == nil {
			t.Fatalf("%s: no items", path)
		}
		elem := typ.Elem()
		checkSchema(t, path+"[]", elem, docs[deref(elem).Name()], *s.Items, docs)
	case reflect.Struct:
		expectType(t, path, s, "object")
		checkStruct(t, path, typ, s, docs)
	default:
		t.Errorf("%s: Go kind %s has no schema mapping here", path, typ.Kind())
	}
}

func checkStruct(t *testing.T, path string, typ reflect.Type, s schema, docs map[string]string) {
	t.Helper()
	fields := jsonFields(typ)
	var names, required []string
	for _, f := range fields {
		names = append(names, f.name)
		if !f.omitempty {
			required = append(required, f.name)
		}
	}
	props := slices.Sorted(maps.Keys(s.Properties))
	slices.Sort(names)
	if !slices.Equal(names, props) {
		t.Errorf("%s: schema properties %v, Go json fields %v", path, props, names)
	}
	if got := slices.Sorted(slices.Values(s.Required)); !slices.Equal(got, slices.Sorted(slices.Values(required))) {
		t.Errorf("%s: required %v, Go fields without omitempty %v", path, got, required)
	}
	for _, f := range fields {
		p, ok := s.Properties[f.name]
		if !ok || f.external {
			continue // apiVersion, kind and metadata are the API server's
		}
		doc := docs[typ.Name()+"."+f.goName]
		if doc == "" {
			doc = docs[deref(f.typ).Name()]
		}
		if typ.PkgPath() != reflect.TypeFor[v1alpha1.PolicyStatus]().PkgPath() {
			doc = p.Description // a Kubernetes type (metav1.Condition): its own words
		}
		checkSchema(t, path+"."+f.name, f.typ, doc, p, docs)
	}
}

func deref(typ reflect.Type) reflect.Type {
	if typ.Kind() == reflect.Pointer {
		return typ.Elem()
	}
	return typ
}

func expectType(t *testing.T, path string, s schema, want string) {
	t.Helper()
	if s.Type != want {
		t.Errorf("%s: type %q, want %q", path, s.Type, want)
	}
}

// jsonField is one field as encoding/json sees it.
type jsonField struct {
	name, goName string
	omitempty    bool
	external     bool // declared outside package v1alpha1
	typ          reflect.Type
}

// jsonFields lists the JSON fields of a struct, flattening inline embeddings.
func jsonFields(typ reflect.Type) []jsonField {
	var out []jsonField
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		external := f.Type.PkgPath() != "" && f.Type.PkgPath() != typ.PkgPath()
		if f.Anonymous && name == "" {
			for _, sub := range jsonFields(f.Type) {
				sub.external = sub.external || external
				out = append(out, sub)
			}
			continue
		}
		omitempty := slices.Contains(strings.Split(opts, ","), "omitempty")
		out = append(out, jsonField{name, f.Name, omitempty, external, f.Type})
	}
	return out
}

// goDocs reads the doc comments of the v1alpha1 types, keyed "Type" and
// "Type.Field".
func goDocs(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../policy/api/v1alpha1/types.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.TYPE {
			continue
		}
		for _, spec := range gen.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil && len(gen.Specs) == 1 {
				doc = gen.Doc
			}
			docs[ts.Name.Name] = doc.Text()
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				for _, n := range field.Names {
					docs[ts.Name.Name+"."+n.Name] = field.Doc.Text()
				}
			}
		}
	}
	return docs
}

func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkSpecRules checks the constraints that reflect cannot see.
func checkSpecRules(t *testing.T, spec schema) {
	t.Helper()
	authority := spec.Properties["authorities"].Items
	key := authority.Properties["key"]
	notation := authority.Properties["notation"]
	name := authority.Properties["name"]
	one := func(n *int64) bool { return n != nil && *n == 1 }
	tests := []struct {
		name string
		ok   bool
	}{
		{"at least one image", one(spec.Properties["images"].MinItems)},
		{"non-empty glob", one(spec.Properties["images"].Items.Properties["glob"].MinLength)},
		{"at least one authority", one(spec.Properties["authorities"].MinItems)},
		{"authority name is a DNS label", name.Pattern == "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" && name.MaxLength != nil && *name.MaxLength == 63},
		{"each authority sets exactly one of key, keyless and notation", len(authority.Validations) == 1 &&
			authority.Validations[0].Rule == "(has(self.key) ? 1 : 0) + (has(self.keyless) ? 1 : 0) + (has(self.notation) ? 1 : 0) == 1"},
		{"notation identities never \"*\"", len(notation.Properties["trustedIdentities"].Validations) == 1 &&
			notation.Properties["trustedIdentities"].Validations[0].Rule == "!self.exists(i, i == '*')" && one(notation.Properties["trustedIdentities"].MinItems)},
		{"notation needs a ca or signingAuthority store", len(notation.Validations) == 1 &&
			notation.Validations[0].Rule == "self.trustStores.exists(s, s.type == 'ca' || s.type == 'signingAuthority')"},
		{"notation store types", slices.Equal(notation.Properties["trustStores"].Items.Properties["type"].Enum, []string{"ca", "signingAuthority", "tsa"})},
		// audit and skip would accept a signature whatever certificate made it.
		{"notation levels", slices.Equal(notation.Properties["level"].Enum, []string{"strict", "permissive"}) && notation.Properties["level"].Default == "strict"},
		{"non-empty key data", one(key.Properties["data"].MinLength)},
		{"hash algorithms", slices.Equal(key.Properties["hashAlgorithm"].Enum, []string{"sha256", "sha384", "sha512"})},
		{"require values", slices.Equal(spec.Properties["require"].Enum, []string{string(v1alpha1.RequireAll), string(v1alpha1.RequireAny)})},
		{"mode values", slices.Equal(spec.Properties["mode"].Enum,
			[]string{string(v1alpha1.ModeEnforce), string(v1alpha1.ModeWarn), string(v1alpha1.ModeAudit)})},
		// The API server stores the loader's defaults, so kubectl shows them.
		{"mode defaults to enforce", spec.Properties["mode"].Default == string(v1alpha1.ModeEnforce)},
		// No default for require: the API server would store it next to a
		// threshold, and the loader refuses the two together.
		{"require has no default", spec.Properties["require"].Default == nil},
		{"multiArch values", slices.Equal(spec.Properties["multiArch"].Enum,
			[]string{string(v1alpha1.MultiArchIndex), string(v1alpha1.MultiArchPlatforms), string(v1alpha1.MultiArchBoth)})},
		{"multiArch defaults to index", spec.Properties["multiArch"].Default == string(v1alpha1.MultiArchIndex)},
		{"threshold is at least 1", spec.Properties["threshold"].Type == "integer" && one(spec.Properties["threshold"].Minimum)},
		{"pinDigest defaults to true", spec.Properties["pinDigest"].Default == true},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("spec: %s: constraint missing or wrong", tt.name)
		}
	}
}
