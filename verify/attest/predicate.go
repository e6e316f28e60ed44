package attest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Predicate types gatehouse parses into typed values.
const (
	SLSAProvenanceV02 = "https://slsa.dev/provenance/v0.2"
	SLSAProvenanceV1  = "https://slsa.dev/provenance/v1"
	CycloneDX         = "https://cyclonedx.org/bom"
	SPDX              = "https://spdx.dev/Document"
	CosignVuln        = "https://cosign.sigstore.dev/attestation/vuln/v1"
)

// Limits on what one predicate may hold.
const (
	MaxComponents = 50000
	MaxFindings   = 50000
	MaxNesting    = 32 // nested CycloneDX components
)

// Predicate is a parsed predicate: one typed field set for the types
// gatehouse knows; for others, only Raw.
type Predicate struct {
	// Kind is "provenance", "sbom", "vulnerabilities" or "other".
	Kind            string           `json:"kind"`
	Provenance      *Provenance      `json:"provenance,omitempty"`
	SBOM            *SBOM            `json:"sbom,omitempty"`
	Vulnerabilities *Vulnerabilities `json:"vulnerabilities,omitempty"`
}

// Parse reads the predicate of a known type; a type it does not know is
// kind "other" and no error.
func Parse(predicateType string, raw json.RawMessage) (Predicate, error) {
	var p Predicate
	var err error
	switch {
	case predicateType == SLSAProvenanceV02:
		p.Kind = "provenance"
		p.Provenance, err = parseProvenanceV02(raw)
	case predicateType == SLSAProvenanceV1:
		p.Kind = "provenance"
		p.Provenance, err = parseProvenanceV1(raw)
	case predicateType == CycloneDX || strings.HasPrefix(predicateType, CycloneDX+"/"):
		p.Kind = "sbom"
		p.SBOM, err = parseCycloneDX(raw)
	case predicateType == SPDX || strings.HasPrefix(predicateType, "https://spdx.dev/Document/"):
		p.Kind = "sbom"
		p.SBOM, err = parseSPDX(raw)
	case predicateType == CosignVuln:
		p.Kind = "vulnerabilities"
		p.Vulnerabilities, err = parseCosignVuln(raw)
	case strings.Contains(strings.ToLower(predicateType), "sarif"):
		p.Kind = "vulnerabilities"
		p.Vulnerabilities, err = parseSARIF(raw)
	default:
		p.Kind = "other"
	}
	if err != nil {
		return Predicate{}, fmt.Errorf("predicate %s: %w", predicateType, err)
	}
	return p, nil
}
