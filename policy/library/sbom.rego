# SBOMs: present, licenses, packages.
package gatehouse.lib.sbom

sboms(image) := [a.sbom | some a in image.attestations; a.kind == "sbom"]

components(image) := [c | some s in sboms(image); some c in s.components]

# missing_denials: the image has no verified SBOM.
missing_denials(image) := {msg |
	count(sboms(image)) == 0
	msg := sprintf("%s has no verified SBOM attestation: attest one (cosign attest --type cyclonedx or spdxjson)", [image.image])
}

# license_ids splits an SPDX license expression into its license IDs.
license_ids(expression) := {id |
	some id in regex.split(`[\s()]+`, expression)
	id != ""
	not upper(id) in {"AND", "OR", "WITH"}
}

# license_denials: a component is under a license in denied.
license_denials(image, denied) := {msg |
	some c in components(image)
	some l in c.licenses
	some id in license_ids(l)
	id in denied
	msg := sprintf("%s contains %s %s under %s, a denied license", [image.image, c.name, c.version, id])
}

# unlisted_license_denials: a component is under a license not in allowed.
unlisted_license_denials(image, allowed) := {msg |
	some c in components(image)
	some l in c.licenses
	some id in license_ids(l)
	not id in allowed
	msg := sprintf("%s contains %s %s under %s, which is not an allowed license", [image.image, c.name, c.version, id])
}

# package_denials: a component's package URL matches one of patterns
# (globs over the whole purl, e.g. "pkg:npm/left-pad@*").
package_denials(image, patterns) := {msg |
	some c in components(image)
	some pattern in patterns
	glob.match(pattern, null, c.purl)
	msg := sprintf("%s contains the denied package %s (matches %s)", [image.image, c.purl, pattern])
}
