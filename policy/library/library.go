// Package library holds the Rego library shipped with gatehouse: packages
// under data.gatehouse.lib that every policy module may import (images,
// slsa, sbom, vulnerabilities, secrets). Each function returns a set of
// denial messages, so a module composes them:
//
//	import data.gatehouse.lib.sbom
//	deny contains msg if some msg in sbom.license_denials(input.image, {"GPL-3.0-only"})
//
// The *_test.rego files are the library's tests, run as `opa test
// policy/library` would (library_test.go).
package library

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed *.rego
var files embed.FS

// Modules returns the library's modules (tests excluded), by file name.
func Modules() map[string]string {
	out := map[string]string{}
	names, _ := fs.Glob(files, "*.rego")
	for _, n := range names {
		if strings.HasSuffix(n, "_test.rego") {
			continue
		}
		data, _ := files.ReadFile(n)
		out["gatehouse/lib/"+n] = string(data)
	}
	return out
}
