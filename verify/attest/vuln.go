package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Severities, lower-case, from worst to least.
var Severities = []string{"critical", "high", "medium", "low", "unknown"}

// Vulnerabilities is a vulnerability scan of the image.
type Vulnerabilities struct {
	// Scanner names the scanner (its URI or name) and ScannerVersion its version.
	Scanner        string `json:"scanner"`
	ScannerVersion string `json:"scannerVersion,omitempty"`
	// ScanFinishedOn is when the scan ended; policies bound its age.
	ScanFinishedOn *time.Time `json:"scanFinishedOn,omitempty"`
	Findings       []Finding  `json:"findings"`
	// Counts holds the number of findings per severity, every severity present.
	Counts map[string]int `json:"counts"`
}

// Finding is one vulnerability found in one package.
type Finding struct {
	// ID is the vulnerability's ID, e.g. CVE-2024-3094 or GHSA-....
	ID string `json:"id"`
	// Severity is critical, high, medium, low or unknown.
	Severity     string `json:"severity"`
	Package      string `json:"package,omitempty"`
	Version      string `json:"version,omitempty"`
	FixedVersion string `json:"fixedVersion,omitempty"`
}

type cosignVuln struct {
	Scanner struct {
		URI     string          `json:"uri"`
		Version string          `json:"version"`
		Result  json.RawMessage `json:"result"`
	} `json:"scanner"`
	Metadata struct {
		ScanFinishedOn *time.Time `json:"scanFinishedOn"`
	} `json:"metadata"`
}

func parseCosignVuln(raw json.RawMessage) (*Vulnerabilities, error) {
	var c cosignVuln
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	v := &Vulnerabilities{Scanner: c.Scanner.URI, ScannerVersion: c.Scanner.Version, ScanFinishedOn: c.Metadata.ScanFinishedOn}
	findings, err := parseScanResult(c.Scanner.Result)
	if err != nil {
		return nil, fmt.Errorf("scanner.result: %w", err)
	}
	return v.with(findings)
}

// parseScanResult reads a scanner's report in the formats scanners write
// into the vuln predicate: Trivy JSON, Grype JSON or SARIF. An absent
// result is refused: it would read as a scan that found nothing.
func parseScanResult(raw json.RawMessage) ([]Finding, error) {
	var probe struct {
		Results json.RawMessage `json:"Results"` // Trivy
		Matches json.RawMessage `json:"matches"` // Grype
		Runs    json.RawMessage `json:"runs"`    // SARIF
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("missing: a report without the scanner's result is not a clean report")
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	switch {
	case probe.Runs != nil:
		return sarifFindings(raw)
	case probe.Matches != nil:
		return grypeFindings(raw)
	case probe.Results != nil:
		return trivyFindings(raw)
	}
	return nil, errors.New("not a Trivy, Grype or SARIF report (no Results, matches or runs)")
}

func (v *Vulnerabilities) with(findings []Finding) (*Vulnerabilities, error) {
	if len(findings) > MaxFindings {
		return nil, fmt.Errorf("%d findings, limit is %d", len(findings), MaxFindings)
	}
	v.Findings, v.Counts = nonNil(findings), map[string]int{}
	for _, s := range Severities {
		v.Counts[s] = 0
	}
	for i := range v.Findings {
		v.Findings[i].Severity = severity(v.Findings[i].Severity)
		v.Counts[v.Findings[i].Severity]++
	}
	return v, nil
}

func severity(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if slices.Contains(Severities, s) {
		return s
	}
	switch s {
	case "negligible", "info", "informational", "none":
		return "low"
	case "moderate":
		return "medium"
	case "important":
		return "high"
	}
	return "unknown"
}

type trivyReport struct {
	Results []struct {
		Vulnerabilities []struct {
			ID               string `json:"VulnerabilityID"`
			PkgName          string `json:"PkgName"`
			InstalledVersion string `json:"InstalledVersion"`
			FixedVersion     string `json:"FixedVersion"`
			Severity         string `json:"Severity"`
		} `json:"Vulnerabilities"`
	} `json:"Results"`
}

func trivyFindings(raw json.RawMessage) ([]Finding, error) {
	var r trivyReport
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	var out []Finding
	for _, res := range r.Results {
		for _, v := range res.Vulnerabilities {
			out = append(out, Finding{ID: v.ID, Severity: v.Severity, Package: v.PkgName, Version: v.InstalledVersion, FixedVersion: v.FixedVersion})
		}
	}
	return out, nil
}

type grypeReport struct {
	Matches []struct {
		Vulnerability struct {
			ID       string `json:"id"`
			Severity string `json:"severity"`
			Fix      struct {
				Versions []string `json:"versions"`
			} `json:"fix"`
		} `json:"vulnerability"`
		Artifact struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"artifact"`
	} `json:"matches"`
}

func grypeFindings(raw json.RawMessage) ([]Finding, error) {
	var r grypeReport
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	var out []Finding
	for _, m := range r.Matches {
		out = append(out, Finding{ID: m.Vulnerability.ID, Severity: m.Vulnerability.Severity, Package: m.Artifact.Name,
			Version: m.Artifact.Version, FixedVersion: strings.Join(m.Vulnerability.Fix.Versions, ", ")})
	}
	return out, nil
}

type sarifLog struct {
	Runs []struct {
		Tool struct {
			Driver struct {
				Name    string      `json:"name"`
				Version string      `json:"version"`
				Rules   []sarifRule `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID string `json:"ruleId"`
			Level  string `json:"level"`
		} `json:"results"`
		Invocations []struct {
			EndTimeUTC *time.Time `json:"endTimeUtc"`
		} `json:"invocations"`
	} `json:"runs"`
}

type sarifRule struct {
	ID         string `json:"id"`
	Properties struct {
		SecuritySeverity string   `json:"security-severity"`
		Tags             []string `json:"tags"`
	} `json:"properties"`
}

// parseSARIF reads a SARIF log given as the whole predicate.
func parseSARIF(raw json.RawMessage) (*Vulnerabilities, error) {
	var l sarifLog
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, err
	}
	v := &Vulnerabilities{}
	if len(l.Runs) > 0 {
		d := l.Runs[0].Tool.Driver
		v.Scanner, v.ScannerVersion = d.Name, d.Version
		if inv := l.Runs[0].Invocations; len(inv) > 0 {
			v.ScanFinishedOn = inv[0].EndTimeUTC
		}
	}
	findings, err := sarifFindings(raw)
	if err != nil {
		return nil, err
	}
	return v.with(findings)
}

// sarifFindings turns SARIF results into findings: the rule ID is the
// vulnerability, its severity is the rule's severity tag (Trivy) or CVSS
// security-severity (Grype, Trivy), else the result's level.
func sarifFindings(raw json.RawMessage) ([]Finding, error) {
	var l sarifLog
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, err
	}
	var out []Finding
	for _, run := range l.Runs {
		rules := map[string]sarifRule{}
		for _, r := range run.Tool.Driver.Rules {
			rules[r.ID] = r
		}
		for _, res := range run.Results {
			out = append(out, Finding{ID: res.RuleID, Severity: ruleSeverity(rules[res.RuleID], res.Level)})
		}
	}
	return out, nil
}

func ruleSeverity(r sarifRule, level string) string {
	for _, t := range r.Properties.Tags {
		if s := severity(t); s != "unknown" {
			return s
		}
	}
	if score, err := strconv.ParseFloat(r.Properties.SecuritySeverity, 64); err == nil {
		switch {
		case score >= 9:
			return "critical"
		case score >= 7:
			return "high"
		case score >= 4:
			return "medium"
		case score > 0:
			return "low"
		}
	}
	switch level {
	case "error":
		return "high"
	case "warning":
		return "medium"
	case "note":
		return "low"
	}
	return "unknown"
}
