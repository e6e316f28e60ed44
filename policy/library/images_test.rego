package gatehouse.lib.images_test

import data.gatehouse.lib.images

release := {"image": "registry.example.com/prod/api:v1.2.0", "repository": "registry.example.com/prod/api", "tag": "v1.2.0", "pinned": false, "digest": "sha256:aa"}

test_trusted_registry if count(images.registry_denials(release, {"registry.example.com/prod/"})) == 0

test_untrusted_registry if {
	images.registry_denials(object.union(release, {"repository": "docker.io/library/nginx"}), {"registry.example.com/prod/", "ghcr.io/example-org/"}) == {"docker.io/library/nginx is not from a known good source: images must come from ghcr.io/example-org/ or registry.example.com/prod/"}
}

test_release_tag if count(images.tag_denials(release)) == 0

test_latest if {
	images.tag_denials(object.union(release, {"image": "registry.example.com/prod/api:latest", "tag": "latest"})) == {`registry.example.com/prod/api:latest uses the mutable tag "latest": deploy a release tag or a digest`}
}

test_no_tag if count(images.tag_denials(object.remove(release, ["tag"]))) == 0

test_not_pinned if {
	images.digest_denials(release) == {"registry.example.com/prod/api:v1.2.0 does not name a digest: write it as registry.example.com/prod/api:v1.2.0@sha256:aa"}
}

test_pinned if count(images.digest_denials(object.union(release, {"pinned": true}))) == 0
