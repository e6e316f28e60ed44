package gatehouse.lib.slsa_test

import data.gatehouse.lib.slsa

github := "https://github.com/actions/runner/github-hosted"

image := {"image": "registry.example.com/api:v1", "attestations": [{"kind": "provenance", "provenance": {"builderID": github, "sourceRepository": "https://github.com/example-org/api"}}]}

unattested := {"image": "registry.example.com/api:v1", "attestations": []}

test_trusted_builder if count(slsa.builder_denials(image, {github})) == 0

test_other_builder if {
	slsa.builder_denials(image, {"https://ci.example.com/builder"}) == {"registry.example.com/api:v1 was not built by a trusted builder: its provenance names https://github.com/actions/runner/github-hosted; trusted: https://ci.example.com/builder"}
}

test_no_provenance if {
	slsa.builder_denials(unattested, {github}) == {"registry.example.com/api:v1 was not built by a trusted builder: its provenance names no provenance; trusted: https://github.com/actions/runner/github-hosted"}
}

test_source_glob if count(slsa.source_denials(image, {"https://github.com/example-org/*"})) == 0

test_source_glob_does_not_cross_segments if {
	count(slsa.source_denials(object.union(image, {"attestations": [{"kind": "provenance", "provenance": {"builderID": github, "sourceRepository": "https://github.com/example-org/api/fork"}}]}), {"https://github.com/example-org/*"})) == 1
}

test_other_source if {
	slsa.source_denials(image, {"https://github.com/other-org/*"}) == {"registry.example.com/api:v1 was not built from a trusted source repository: its provenance names https://github.com/example-org/api; trusted: https://github.com/other-org/*"}
}

test_level_met if count(slsa.level_denials(image, {github: 3}, 3)) == 0

test_level_too_low if {
	slsa.level_denials(image, {github: 2}, 3) == {"registry.example.com/api:v1 is built at SLSA build level 2, policy requires 3: build it on a builder of level 3 or more"}
}

test_level_unknown_builder if count(slsa.level_denials(image, {"https://ci.example.com": 3}, 1)) == 1
