# Vulnerability reports: counts per severity, accepted CVEs, report age.
package gatehouse.lib.vulnerabilities

reports(image) := [a.vulnerabilities | some a in image.attestations; a.kind == "vulnerabilities"]

# latest is the report that finished last.
latest(image) := r if {
	some r in reports(image)
	every o in reports(image) {
		time.parse_rfc3339_ns(o.scanFinishedOn) <= time.parse_rfc3339_ns(r.scanFinishedOn)
	}
}

# accepted holds for a finding whose ID the allowlist accepts until a date
# not yet past: allowlist maps IDs to an RFC 3339 expiry, e.g.
# {"CVE-2023-4911": "2027-01-31T00:00:00Z"}.
accepted(finding, allowlist) if time.now_ns() < time.parse_rfc3339_ns(allowlist[finding.id])

open_findings(image, allowlist) := [f |
	some f in latest(image).findings
	not accepted(f, allowlist)
]

# missing_denials: the image has no verified vulnerability report.
missing_denials(image) := {msg |
	count(reports(image)) == 0
	msg := sprintf("%s has no verified vulnerability report: scan it and attest the report (cosign attest --type vuln)", [image.image])
}

# count_denials: more open findings of a severity than limits allows,
# e.g. limits {"critical": 0, "high": 5}.
count_denials(image, limits, allowlist) := {msg |
	some severity, limit in limits
	ids := sort({f.id | some f in open_findings(image, allowlist); f.severity == severity})
	count(ids) > limit
	msg := sprintf("%s has %d %s vulnerabilities, policy allows %d: %s", [image.image, count(ids), severity, limit, shortlist(ids)])
}

# age_denials: the latest report finished longer ago than max_age (a Go
# duration such as "168h").
age_denials(image, max_age) := {msg |
	finished := latest(image).scanFinishedOn
	time.now_ns() - time.parse_rfc3339_ns(finished) > time.parse_duration_ns(max_age)
	msg := sprintf("%s was last scanned at %s, more than %s ago: scan it again and attest the report", [image.image, finished, max_age])
}

shortlist(ids) := concat(", ", ids) if count(ids) <= 5

shortlist(ids) := sprintf("%s and %d more", [concat(", ", array.slice(ids, 0, 5)), count(ids) - 5]) if count(ids) > 5
