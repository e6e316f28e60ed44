package gatehouse.lib.vulnerabilities_test

import data.gatehouse.lib.vulnerabilities as vulns

report(finished, findings) := {"kind": "vulnerabilities", "vulnerabilities": {"scanFinishedOn": finished, "findings": findings}}

findings := [
	{"id": "CVE-2024-3094", "severity": "critical"},
	{"id": "CVE-2023-4911", "severity": "high"},
	{"id": "CVE-2023-0001", "severity": "high"},
	{"id": "CVE-2022-0563", "severity": "low"},
]

now := "2026-12-06T12:00:00Z"

image := {"image": "registry.example.com/api:v1", "attestations": [report("2026-12-05T12:00:00Z", findings)]}

at_now(f) := x if x := f with time.now_ns as time.parse_rfc3339_ns(now)

test_within_limits if count(vulns.count_denials(image, {"critical": 1, "high": 2}, {})) == 0

test_over_limits if {
	vulns.count_denials(image, {"critical": 0, "high": 1, "low": 5}, {}) == {
		"registry.example.com/api:v1 has 1 critical vulnerabilities, policy allows 0: CVE-2024-3094",
		"registry.example.com/api:v1 has 2 high vulnerabilities, policy allows 1: CVE-2023-0001, CVE-2023-4911",
	}
}

test_allowlist_until_expiry if {
	count(vulns.count_denials(image, {"critical": 0}, {"CVE-2024-3094": "2027-01-01T00:00:00Z"})) == 0 with time.now_ns as time.parse_rfc3339_ns(now)
}

test_allowlist_expired if {
	count(vulns.count_denials(image, {"critical": 0}, {"CVE-2024-3094": "2026-12-01T00:00:00Z"})) == 1 with time.now_ns as time.parse_rfc3339_ns(now)
}

test_latest_report_counts if {
	newer := object.union(image, {"attestations": [report("2026-11-01T00:00:00Z", findings), report("2026-12-05T13:00:00Z", [])]})
	count(vulns.count_denials(newer, {"critical": 0}, {})) == 0
}

test_fresh if count(vulns.age_denials(image, "168h")) == 0 with time.now_ns as time.parse_rfc3339_ns(now)

test_stale if {
	vulns.age_denials(image, "12h") == {"registry.example.com/api:v1 was last scanned at 2026-12-05T12:00:00Z, more than 12h ago: scan it again and attest the report"} with time.now_ns as time.parse_rfc3339_ns(now)
}

test_missing if {
	vulns.missing_denials({"image": "x:v1", "attestations": []}) == {"x:v1 has no verified vulnerability report: scan it and attest the report (cosign attest --type vuln)"}
}

test_shortlist if vulns.shortlist(["a", "b", "c", "d", "e", "f", "g"]) == "a, b, c, d, e and 2 more"
