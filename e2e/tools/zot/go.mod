// Module zot builds the zot registry for the e2e tests: unlike docker-registry it
// serves the OCI 1.1 referrers API. It is kept apart from the main module because
// zot pulls in hundreds of dependencies the webhook must not share.
module gatehouse.dev/gatehouse/e2e/tools/zot

go 1.25.0

require zotregistry.io/zot v1.4.3

// The proxy here does not serve the vanity host zotregistry.io; the same
// source is the module github.com/project-zot/zot (its go.mod says zotregistry.io/zot).
replace zotregistry.io/zot => github.com/project-zot/zot v1.4.3

// zot v1.4.3's own replaces (github.com/project-zot/zot@v1.4.3/go.mod), which do
// not apply to a module that requires zot: go mod tidy resolves every build tag,
// and the search extension imports trivy, which only exists as these forks.
replace (
	github.com/aquasecurity/fanal => github.com/project-zot/fanal v0.0.0-20211007194926-d0c577a014df
	github.com/aquasecurity/trivy => github.com/project-zot/trivy v0.9.2-0.20211013001708-27408aa50da3
	github.com/aquasecurity/trivy-db => github.com/project-zot/trivy-db v0.0.0-20211007191113-44f7e57b689c
	github.com/containers/image/v5 => github.com/anuvu/image/v5 v5.0.0-20220520105616-e594853d6471
	github.com/hashicorp/go-getter => github.com/hashicorp/go-getter v1.6.1
	github.com/open-policy-agent/opa => github.com/open-policy-agent/opa v0.44.0
	github.com/opencontainers/runc => github.com/opencontainers/runc v1.1.2
	go.etcd.io/etcd/v3 => go.etcd.io/etcd/v3 v3.5.4
	go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc => go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc v0.26.1
	go.opentelemetry.io/otel => go.opentelemetry.io/otel v1.2.0
	go.opentelemetry.io/otel/exporters/otlp/otlptrace => go.opentelemetry.io/otel/exporters/otlp/otlptrace v1.1.0
	go.opentelemetry.io/otel/sdk => go.opentelemetry.io/otel/sdk v1.2.0
	go.opentelemetry.io/otel/trace => go.opentelemetry.io/otel/trace v1.2.0
)
