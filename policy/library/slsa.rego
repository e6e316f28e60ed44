# SLSA provenance: who built the image, from which source.
package gatehouse.lib.slsa

# provenances are the image's verified SLSA provenance predicates.
provenances(image) := [a.provenance | some a in image.attestations; a.kind == "provenance"]

builders(image) := sort({p.builderID | some p in provenances(image)})

sources(image) := sort({p.sourceRepository | some p in provenances(image)})

built_by(image, trusted) if {
	some p in provenances(image)
	p.builderID in trusted
}

# builder_denials: no verified provenance names a trusted builder ID.
builder_denials(image, trusted) := {msg |
	not built_by(image, trusted)
	msg := sprintf("%s was not built by a trusted builder: its provenance names %s; trusted: %s", [image.image, names(builders(image)), concat(", ", sort([b | some b in trusted]))])
}

# source_denials: no verified provenance names a source repository that
# matches one of patterns (globs, "*" within a path segment).
source_denials(image, patterns) := {msg |
	not from_source(image, patterns)
	msg := sprintf("%s was not built from a trusted source repository: its provenance names %s; trusted: %s", [image.image, names(sources(image)), concat(", ", sort([p | some p in patterns]))])
}

from_source(image, patterns) if {
	some p in provenances(image)
	some pattern in patterns
	glob.match(pattern, ["/"], p.sourceRepository)
}

# level_denials: the best SLSA build level among the provenances' builders,
# by levels (builder ID -> level), is below minimum.
level_denials(image, levels, minimum) := {msg |
	best := max(array.concat([0], [levels[p.builderID] | some p in provenances(image); levels[p.builderID]]))
	best < minimum
	msg := sprintf("%s is built at SLSA build level %d, policy requires %d: build it on a builder of level %d or more", [image.image, best, minimum, minimum])
}

names(list) := "no provenance" if count(list) == 0

names(list) := concat(", ", list) if count(list) > 0
