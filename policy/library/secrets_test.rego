package gatehouse.lib.secrets_test

import data.gatehouse.lib.secrets

pod := {"kind": "Pod", "spec": {"containers": [{"name": "api", "env": [
	{"name": "DB_PASSWORD", "value": "hunter2"},
	{"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"},
	{"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
	{"name": "LOG_LEVEL", "value": "debug"},
	{"name": "UPSTREAM", "value": "AKIAIOSFODNN7EXAMPLE"},
]}]}}

test_literal_credentials if {
	secrets.literal_denials(pod) == {
		`container "api" sets DB_PASSWORD to a literal value that looks like a credential: use valueFrom.secretKeyRef, or mount it as a file and pass its path in DB_PASSWORD_FILE`,
		`container "api" sets UPSTREAM to a literal value that looks like a credential: use valueFrom.secretKeyRef, or mount it as a file and pass its path in UPSTREAM_FILE`,
	}
}

test_never_the_value if {
	every msg in secrets.literal_denials(pod) {
		not contains(msg, "hunter2")
		not contains(msg, "AKIA")
	}
}

test_deployment_template if {
	deployment := {"kind": "Deployment", "spec": {"template": pod}}
	count(secrets.literal_denials(deployment)) == 2
}

test_cronjob_init_containers if {
	cronjob := {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"initContainers": [{"name": "init", "env": [{"name": "GITHUB_TOKEN", "value": "x"}]}]}}}}}}
	count(secrets.literal_denials(cronjob)) == 1
}

test_image_config if {
	secrets.image_denials({"image": "registry.example.com/api:v1", "config": {"envNames": ["PATH", "AWS_SECRET_ACCESS_KEY"], "credentialEnv": ["AWS_SECRET_ACCESS_KEY"]}}) == {"registry.example.com/api:v1 sets AWS_SECRET_ACCESS_KEY in its configuration's Env to a value that looks like a credential: rebuild it without, and give the credential at run time from a Secret"}
}

test_image_without_config if count(secrets.image_denials({"image": "x:v1"})) == 0
