package webhook

import (
	"time"

	"gatehouse.dev/gatehouse/verify"
)

// auditImage is an image verdict as the audit log line holds it: the whole
// verification, with each attestation summarized rather than copied (an
// SBOM may list tens of thousands of components).
type auditImage struct {
	ImageVerdict
	Result auditResult `json:"result"`
}

type auditResult struct {
	verify.Result
	Attestations []attestationSummary `json:"attestations,omitempty"`
}

// attestationSummary is what the audit log keeps of a verified attestation.
type attestationSummary struct {
	Requirement   string              `json:"requirement"`
	Authority     string              `json:"authority"`
	PredicateType string              `json:"predicateType"`
	Format        string              `json:"format"`
	Certificate   *verify.Certificate `json:"certificate,omitempty"`
	// Notation is the signer of a Notation-signed document.
	Notation *verify.NotationSignature `json:"notation,omitempty"`
	Kind     string                    `json:"kind"`
	// Provenance: the builder and the source.
	BuilderID        string `json:"builderID,omitempty"`
	SourceRepository string `json:"sourceRepository,omitempty"`
	SourceRef        string `json:"sourceRef,omitempty"`
	// SBOM: its format and how many components it lists.
	SBOMFormat string `json:"sbomFormat,omitempty"`
	Components *int   `json:"components,omitempty"`
	// Vulnerabilities: findings per severity and when the scan ended.
	Counts         map[string]int `json:"counts,omitempty"`
	ScanFinishedOn *time.Time     `json:"scanFinishedOn,omitempty"`
}

func auditImages(verdicts []ImageVerdict) []auditImage {
	out := make([]auditImage, 0, len(verdicts))
	for _, v := range verdicts {
		a := auditImage{ImageVerdict: v, Result: auditResult{Result: v.Result}}
		for _, at := range v.Result.Attestations {
			a.Result.Attestations = append(a.Result.Attestations, summarize(at))
		}
		out = append(out, a)
	}
	return out
}

func summarize(at verify.Attestation) attestationSummary {
	s := attestationSummary{Requirement: at.Requirement, Authority: at.Authority, PredicateType: at.PredicateType,
		Format: at.Format, Certificate: at.Certificate, Notation: at.Notation, Kind: at.Kind}
	if p := at.Provenance; p != nil {
		s.BuilderID, s.SourceRepository, s.SourceRef = p.BuilderID, p.SourceRepository, p.SourceRef
	}
	if b := at.SBOM; b != nil {
		n := len(b.Components)
		s.SBOMFormat, s.Components = b.Format, &n
	}
	if v := at.Vulnerabilities; v != nil {
		s.Counts, s.ScanFinishedOn = v.Counts, v.ScanFinishedOn
	}
	return s
}
