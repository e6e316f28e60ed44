// Module zot builds the zot registry for the e2e tests: unlike docker-registry it
// serves the OCI 1.1 referrers API. It is kept apart from the main module because
// zot pulls in hundreds of dependencies the webhook must not share.
module gatehouse.dev/gatehouse/e2e/tools/zot

go 1.25.0

require zotregistry.io/zot v1.4.3

// The proxy here does not serve the vanity host zotregistry.io; the same
// source is the module github.com/project-zot/zot (its go.mod says zotregistry.io/zot).
replace zotregistry.io/zot => github.com/project-zot/zot v1.4.3
