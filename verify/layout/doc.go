// Package layout records images, with their signatures and attestations,
// into an OCI image layout, and serves such a layout as a registry, in
// process, for offline policy tests (gatehouse test).
//
// A recorded layout holds, for each image: its manifest (or index and the
// platform manifests), and every artifact gatehouse reads about each
// digest: cosign's .sig and .att manifests and the digest's OCI referrers
// (sigstore bundles, Notary Project signatures), with their blobs. Image
// layers are not recorded: verification never reads them. Each manifest is
// named in index.json by its reference (org.opencontainers.image.ref.name),
// so the layout serves it under the same registry host and repository.
package layout
