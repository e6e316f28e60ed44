package library_test

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/tester"

	"gatehouse.dev/gatehouse/policy/library"
)

// The library's Rego tests pass, as `opa test policy/library` runs them.
func TestRegoTests(t *testing.T) {
	results, err := tester.Run(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 30 {
		t.Fatalf("%d Rego tests ran, want the whole library's", len(results))
	}
	for _, r := range results {
		if r.Fail || r.Error != nil {
			t.Errorf("%s.%s: fail %v, error %v (%s)", r.Package, r.Name, r.Fail, r.Error, r.Location)
		}
	}
}

func TestModules(t *testing.T) {
	mods := library.Modules()
	for _, name := range []string{"images", "slsa", "sbom", "vulnerabilities", "secrets"} {
		if _, ok := mods["gatehouse/lib/"+name+".rego"]; !ok {
			t.Errorf("module %s missing (have %v)", name, len(mods))
		}
	}
	for name := range mods {
		if len(name) > 10 && name[len(name)-10:] == "_test.rego" {
			t.Errorf("test module %s shipped", name)
		}
	}
}
