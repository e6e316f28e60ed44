package gatehouse.lib.sbom_test

import data.gatehouse.lib.sbom

image := {"image": "registry.example.com/api:v1", "attestations": [{"kind": "sbom", "sbom": {"format": "cyclonedx", "components": [
	{"name": "golang.org/x/net", "version": "v0.30.0", "purl": "pkg:golang/golang.org/x/net@v0.30.0", "licenses": ["BSD-3-Clause"]},
	{"name": "libc6", "version": "2.36-9", "purl": "pkg:deb/debian/libc6@2.36-9", "licenses": ["LGPL-2.1-or-later AND (GPL-2.0-only OR MIT)"]},
	{"name": "left-pad", "version": "1.3.0", "purl": "pkg:npm/left-pad@1.3.0", "licenses": []},
]}}]}

test_present if count(sbom.missing_denials(image)) == 0

test_missing if {
	sbom.missing_denials({"image": "x:v1", "attestations": []}) == {"x:v1 has no verified SBOM attestation: attest one (cosign attest --type cyclonedx or spdxjson)"}
}

test_license_ids if sbom.license_ids("LGPL-2.1-or-later AND (GPL-2.0-only OR MIT)") == {"LGPL-2.1-or-later", "GPL-2.0-only", "MIT"}

test_denied_license if {
	sbom.license_denials(image, {"GPL-2.0-only", "GPL-3.0-only"}) == {"registry.example.com/api:v1 contains libc6 2.36-9 under GPL-2.0-only, a denied license"}
}

test_denied_license_is_exact if count(sbom.license_denials(image, {"GPL-2.0"})) == 0

test_allowed_licenses if {
	sbom.unlisted_license_denials(image, {"BSD-3-Clause", "MIT", "GPL-2.0-only"}) == {"registry.example.com/api:v1 contains libc6 2.36-9 under LGPL-2.1-or-later, which is not an allowed license"}
}

test_denied_package if {
	sbom.package_denials(image, {"pkg:npm/left-pad@*"}) == {"registry.example.com/api:v1 contains the denied package pkg:npm/left-pad@1.3.0 (matches pkg:npm/left-pad@*)"}
}

test_package_pattern_version if count(sbom.package_denials(image, {"pkg:npm/left-pad@2.*"})) == 0
