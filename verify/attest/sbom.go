package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SBOM is a software bill of materials, flattened to its components.
type SBOM struct {
	// Format is "cyclonedx" or "spdx".
	Format      string      `json:"format"`
	SpecVersion string      `json:"specVersion"`
	Components  []Component `json:"components"`
}

// Component is one package of an SBOM.
type Component struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// PURL is the package URL, e.g. pkg:golang/golang.org/x/net@v0.30.0.
	PURL string `json:"purl,omitempty"`
	// Licenses are SPDX license IDs, names or expressions, as declared.
	Licenses []string `json:"licenses"`
	// Type is the CycloneDX component type (library, application, ...) or
	// the SPDX primary package purpose, if given.
	Type string `json:"type,omitempty"`
}

type cdxComponent struct {
	Type     string `json:"type"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	PURL     string `json:"purl"`
	Licenses []struct {
		License *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"license"`
		Expression string `json:"expression"`
	} `json:"licenses"`
	Components []cdxComponent `json:"components"`
}

type cdxBOM struct {
	BOMFormat   string         `json:"bomFormat"`
	SpecVersion string         `json:"specVersion"`
	Components  []cdxComponent `json:"components"`
	// cosign v1 wrapped the document as {"Data": ...}.
	Data json.RawMessage `json:"Data"`
}

var errTooMany = errors.New("too many components")

func parseCycloneDX(raw json.RawMessage) (*SBOM, error) {
	var b cdxBOM
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, err
	}
	if b.BOMFormat == "" && len(b.Data) > 0 {
		if err := json.Unmarshal(b.Data, &b); err != nil {
			return nil, err
		}
	}
	if b.BOMFormat != "CycloneDX" {
		return nil, fmt.Errorf("bomFormat %q, want CycloneDX", b.BOMFormat)
	}
	s := &SBOM{Format: "cyclonedx", SpecVersion: b.SpecVersion, Components: []Component{}}
	if err := s.addCycloneDX(b.Components, 0); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SBOM) addCycloneDX(cs []cdxComponent, depth int) error {
	if depth > MaxNesting {
		return fmt.Errorf("components nested deeper than %d", MaxNesting)
	}
	for _, c := range cs {
		if len(s.Components) == MaxComponents {
			return fmt.Errorf("%w: more than %d", errTooMany, MaxComponents)
		}
		comp := Component{Name: c.Name, Version: c.Version, PURL: c.PURL, Type: c.Type, Licenses: []string{}}
		for _, l := range c.Licenses {
			switch {
			case l.Expression != "":
				comp.Licenses = append(comp.Licenses, l.Expression)
			case l.License != nil && l.License.ID != "":
				comp.Licenses = append(comp.Licenses, l.License.ID)
			case l.License != nil && l.License.Name != "":
				comp.Licenses = append(comp.Licenses, l.License.Name)
			}
		}
		s.Components = append(s.Components, comp)
		if err := s.addCycloneDX(c.Components, depth+1); err != nil {
			return err
		}
	}
	return nil
}

type spdxDocument struct {
	SPDXVersion string `json:"spdxVersion"`
	Packages    []struct {
		Name             string `json:"name"`
		VersionInfo      string `json:"versionInfo"`
		LicenseConcluded string `json:"licenseConcluded"`
		LicenseDeclared  string `json:"licenseDeclared"`
		Purpose          string `json:"primaryPackagePurpose"`
		ExternalRefs     []struct {
			Type    string `json:"referenceType"`
			Locator string `json:"referenceLocator"`
		} `json:"externalRefs"`
	} `json:"packages"`
	Data json.RawMessage `json:"Data"`
}

func parseSPDX(raw json.RawMessage) (*SBOM, error) {
	var d spdxDocument
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	if d.SPDXVersion == "" && len(d.Data) > 0 {
		if err := json.Unmarshal(d.Data, &d); err != nil {
			return nil, err
		}
	}
	if !strings.HasPrefix(d.SPDXVersion, "SPDX-") {
		return nil, fmt.Errorf("spdxVersion %q, want SPDX-2.x", d.SPDXVersion)
	}
	if len(d.Packages) > MaxComponents {
		return nil, fmt.Errorf("%w: %d packages, limit is %d", errTooMany, len(d.Packages), MaxComponents)
	}
	s := &SBOM{Format: "spdx", SpecVersion: strings.TrimPrefix(d.SPDXVersion, "SPDX-"), Components: make([]Component, 0, len(d.Packages))}
	for _, p := range d.Packages {
		c := Component{Name: p.Name, Version: p.VersionInfo, Type: p.Purpose, Licenses: []string{}}
		for _, l := range []string{p.LicenseConcluded, p.LicenseDeclared} {
			if l != "" && l != "NOASSERTION" && l != "NONE" && (len(c.Licenses) == 0 || c.Licenses[0] != l) {
				c.Licenses = append(c.Licenses, l)
			}
		}
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" && c.PURL == "" {
				c.PURL = r.Locator
			}
		}
		s.Components = append(s.Components, c)
	}
	return s, nil
}
