# Known good sources and immutable references.
package gatehouse.lib.images

# trusted_registry holds when the image's canonical repository starts with
# one of prefixes, e.g. {"registry.example.com/prod/"}.
trusted_registry(image, prefixes) if {
	some p in prefixes
	startswith(image.repository, p)
}

# registry_denials: the image does not come from one of prefixes.
registry_denials(image, prefixes) := {msg |
	not trusted_registry(image, prefixes)
	msg := sprintf("%s is not from a known good source: images must come from %s", [image.repository, concat(" or ", sort([p | some p in prefixes]))])
}

# Tags that name whatever was pushed last.
mutable_tags := {"latest", "main", "master", "dev", "develop", "edge", "nightly", "head"}

# tag_denials: the reference uses a mutable tag.
tag_denials(image) := {msg |
	lower(image.tag) in mutable_tags
	msg := sprintf("%s uses the mutable tag %q: deploy a release tag or a digest", [image.image, image.tag])
}

# digest_denials: the reference does not name a digest.
digest_denials(image) := {msg |
	not image.pinned
	msg := sprintf("%s does not name a digest: write it as %s@%s", [image.image, image.image, image.digest])
}
