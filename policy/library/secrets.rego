# Credentials written into the pod spec as literal environment values.
package gatehouse.lib.secrets

# pod_spec is the pod spec of a Pod, a CronJob or another pod controller.
pod_spec(obj) := obj.spec if obj.kind == "Pod"

pod_spec(obj) := obj.spec.jobTemplate.spec.template.spec if obj.kind == "CronJob"

pod_spec(obj) := obj.spec.template.spec if not obj.kind in {"Pod", "CronJob"}

containers(obj) := [c |
	some field in ["containers", "initContainers", "ephemeralContainers"]
	some c in object.get(pod_spec(obj), field, [])
]

credential_name(name) if regex.match(`(?i)(passw(or)?d|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credential)`, name)

credential_value(value) if regex.match(`(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{36}|xox[abpr]-[A-Za-z0-9-]+|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.)`, value)

looks_like_credential(e) if credential_name(e.name)

looks_like_credential(e) if credential_value(e.value)

# literal_denials: a container sets a credential-looking variable to a
# literal value. The message names the variable, never the value.
literal_denials(obj) := {msg |
	some c in containers(obj)
	some e in c.env
	e.value != ""
	not endswith(upper(e.name), "_FILE")
	looks_like_credential(e)
	msg := sprintf("container %q sets %s to a literal value that looks like a credential: use valueFrom.secretKeyRef, or mount it as a file and pass its path in %s_FILE", [c.name, e.name, e.name])
}

# image_denials: the image's configuration sets a credential-looking
# variable in its Env (gatehouse keeps the names, never the values).
image_denials(image) := {msg |
	some name in image.config.credentialEnv
	msg := sprintf("%s sets %s in its configuration's Env to a value that looks like a credential: rebuild it without, and give the credential at run time from a Secret", [image.image, name])
}
