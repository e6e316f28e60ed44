package attest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/verify/attest"
)

func read(t testing.TB, name string) json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parse(t *testing.T, predicateType, file string) attest.Predicate {
	t.Helper()
	p, err := attest.Parse(predicateType, read(t, file))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProvenance(t *testing.T) {
	v02 := parse(t, attest.SLSAProvenanceV02, "slsa-v02.json")
	p := v02.Provenance
	if v02.Kind != "provenance" || p.SLSAVersion != "0.2" ||
		p.BuilderID != "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0" ||
		p.SourceRepository != "https://github.com/example-org/api" || p.SourceRef != "refs/heads/main" ||
		p.SourceDigest["sha1"] != "4b1e5c2f0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f" || p.EntryPoint != ".github/workflows/release.yml" ||
		len(p.Materials) != 1 || p.InvocationID != "7710123456-1" || !p.BuildFinishedOn.Equal(time.Date(2026, 12, 1, 10, 4, 12, 0, time.UTC)) {
		t.Errorf("v0.2: %+v", p)
	}
	v1 := parse(t, attest.SLSAProvenanceV1, "slsa-v1.json")
	p = v1.Provenance
	if p.SLSAVersion != "1" || p.BuilderID != "https://github.com/actions/runner/github-hosted" ||
		p.BuildType != "https://actions.github.io/buildtypes/workflow/v1" ||
		p.SourceRepository != "https://github.com/example-org/api" || p.SourceRef != "refs/tags/v1.4.0" ||
		p.SourceDigest["gitCommit"] != "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432" || p.EntryPoint != ".github/workflows/release.yml" ||
		len(p.Materials) != 1 || p.BuildStartedOn == nil || !strings.Contains(string(p.Parameters), "refs/tags/v1.4.0") {
		t.Errorf("v1: %+v", p)
	}
}

func TestSBOM(t *testing.T) {
	cdx := parse(t, attest.CycloneDX, "cyclonedx.json").SBOM
	if cdx.Format != "cyclonedx" || cdx.SpecVersion != "1.6" || len(cdx.Components) != 4 {
		t.Fatalf("cyclonedx: %+v", cdx)
	}
	want := []attest.Component{
		{Name: "golang.org/x/net", Version: "v0.30.0", PURL: "pkg:golang/golang.org/x/net@v0.30.0", Licenses: []string{"BSD-3-Clause"}, Type: "library"},
		{Name: "libc6", Version: "2.36-9", PURL: "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12", Licenses: []string{"LGPL-2.1-or-later AND GPL-2.0-only"}, Type: "library"},
		{Name: "left-pad", Version: "1.3.0", PURL: "pkg:npm/left-pad@1.3.0", Licenses: []string{"WTFPL"}, Type: "library"},
		{Name: "index.js", Licenses: []string{}, Type: "file"},
	}
	for i, w := range want {
		if got, _ := json.Marshal(cdx.Components[i]); string(got) != string(must(json.Marshal(w))) {
			t.Errorf("component %d: %s, want %s", i, got, must(json.Marshal(w)))
		}
	}
	spdx := parse(t, attest.SPDX, "spdx.json").SBOM
	if spdx.Format != "spdx" || spdx.SpecVersion != "2.3" || len(spdx.Components) != 2 ||
		spdx.Components[0].PURL != "pkg:golang/golang.org/x/net@v0.30.0" || strings.Join(spdx.Components[0].Licenses, ",") != "BSD-3-Clause" ||
		strings.Join(spdx.Components[1].Licenses, ",") != "GPL-3.0-or-later" || spdx.Components[0].Type != "LIBRARY" {
		t.Errorf("spdx: %+v", spdx)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestVulnerabilities(t *testing.T) {
	tests := []struct {
		name, predicateType, file, scanner string
		finished                           string
		counts                             map[string]int
		first                              attest.Finding
	}{
		{name: "cosign vuln, Trivy JSON", predicateType: attest.CosignVuln, file: "vuln-trivy.json", scanner: "pkg:github/aquasecurity/trivy@v0.58.1", finished: "2026-12-01T10:05:09Z",
			counts: map[string]int{"critical": 1, "high": 1, "medium": 0, "low": 1, "unknown": 0},
			first:  attest.Finding{ID: "CVE-2024-3094", Severity: "critical", Package: "xz-utils", Version: "5.6.0-0.2", FixedVersion: "5.6.1+really5.4.5-1"}},
		{name: "cosign vuln, Grype JSON", predicateType: attest.CosignVuln, file: "vuln-grype.json", scanner: "pkg:github/anchore/grype@v0.86.1", finished: "2026-12-02T08:00:30Z",
			counts: map[string]int{"critical": 0, "high": 0, "medium": 1, "low": 1, "unknown": 0},
			first:  attest.Finding{ID: "GHSA-qppj-fm5r-hxr3", Severity: "medium", Package: "golang.org/x/net", Version: "v0.30.0", FixedVersion: "0.33.0"}},
		{name: "SARIF", predicateType: "https://docs.oasis-open.org/sarif/sarif/2.1.0", file: "sarif.json", scanner: "Trivy", finished: "2026-12-03T09:00:00Z",
			counts: map[string]int{"critical": 1, "high": 1, "medium": 0, "low": 1, "unknown": 0},
			first:  attest.Finding{ID: "CVE-2024-3094", Severity: "critical"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := parse(t, tc.predicateType, tc.file).Vulnerabilities
			got, _ := json.Marshal(v.Counts)
			if v.Scanner != tc.scanner || v.ScanFinishedOn.Format(time.RFC3339) != tc.finished || string(got) != string(must(json.Marshal(tc.counts))) || v.Findings[0] != tc.first {
				t.Fatalf("scanner %q finished %v counts %s first %+v", v.Scanner, v.ScanFinishedOn, got, v.Findings[0])
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat(`{"name":"x","components":[`, attest.MaxNesting+2) + strings.Repeat(`]}`, attest.MaxNesting+2)
	tests := []struct {
		name, predicateType, predicate, want string
	}{
		{name: "provenance not an object", predicateType: attest.SLSAProvenanceV1, predicate: `[]`, want: "cannot unmarshal array"},
		{name: "CycloneDX without bomFormat", predicateType: attest.CycloneDX, predicate: `{"components":[]}`, want: `bomFormat "", want CycloneDX`},
		{name: "CycloneDX nested too deep", predicateType: attest.CycloneDX, predicate: `{"bomFormat":"CycloneDX","components":[` + deep + `]}`, want: "nested deeper than"},
		{name: "SPDX 3 or other", predicateType: attest.SPDX, predicate: `{"spdxVersion":"3.0"}`, want: "want SPDX-2.x"},
		{name: "vuln result of unknown shape", predicateType: attest.CosignVuln, predicate: `{"scanner":{"result":{"foo":1}}}`, want: "not a Trivy, Grype or SARIF report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := attest.Parse(tc.predicateType, json.RawMessage(tc.predicate))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if p, err := attest.Parse("https://example.com/custom/v1", json.RawMessage(`{"anything":true}`)); err != nil || p.Kind != "other" {
		t.Fatalf("unknown predicate type: %+v, %v", p, err)
	}
	if _, err := attest.Parse(attest.CosignVuln, json.RawMessage(`{"scanner":{"uri":"x"}}`)); err == nil || !strings.Contains(err.Error(), "scanner.result: missing") {
		t.Fatalf("a scan without result: %v, want it refused", err)
	}
	if v, err := attest.Parse(attest.CosignVuln, json.RawMessage(`{"scanner":{"uri":"x","result":{"Results":[]}}}`)); err != nil || v.Vulnerabilities.Counts["critical"] != 0 || len(v.Vulnerabilities.Findings) != 0 {
		t.Fatalf("a scan that found nothing: %+v, %v", v, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range []struct{ t, file string }{
		{attest.SLSAProvenanceV02, "slsa-v02.json"}, {attest.SLSAProvenanceV1, "slsa-v1.json"}, {attest.CycloneDX, "cyclonedx.json"},
		{attest.SPDX, "spdx.json"}, {attest.CosignVuln, "vuln-trivy.json"}, {attest.CosignVuln, "vuln-grype.json"}, {"sarif", "sarif.json"},
	} {
		f.Add(c.t, []byte(read(f, c.file)))
	}
	f.Fuzz(func(t *testing.T, predicateType string, data []byte) {
		p, err := attest.Parse(predicateType, data)
		if err != nil {
			return
		}
		if p.Vulnerabilities != nil && len(p.Vulnerabilities.Counts) != len(attest.Severities) {
			t.Fatalf("counts %v", p.Vulnerabilities.Counts)
		}
		if p.SBOM != nil && len(p.SBOM.Components) > attest.MaxComponents {
			t.Fatal("too many components")
		}
	})
}

// SBOMs made by the real syft (testdata/syft.sh) parse to their packages
// and declared licenses.
func TestSyftSBOMs(t *testing.T) {
	want := "api 1.4.0 pkg:npm/api@1.4.0 [MIT]; gpl-thing 2.0.1 pkg:npm/gpl-thing@2.0.1 [GPL-3.0-only]; left-pad 1.3.0 pkg:npm/left-pad@1.3.0 [WTFPL]"
	for _, tc := range []struct{ predicateType, file, format string }{
		{attest.CycloneDX, "syft.cdx.json", "cyclonedx"},
		{attest.SPDX, "syft.spdx.json", "spdx"},
	} {
		s := parse(t, tc.predicateType, tc.file).SBOM
		var got []string
		for _, c := range s.Components {
			if c.PURL != "" { // syft also lists the scanned files and the directory
				got = append(got, fmt.Sprintf("%s %s %s %v", c.Name, c.Version, c.PURL, c.Licenses))
			}
		}
		if s.Format != tc.format || strings.Join(got, "; ") != want {
			t.Errorf("%s: format %q, components:\n%s\nwant\n%s", tc.file, s.Format, strings.Join(got, "; "), want)
		}
	}
}
