// Package manifests holds gatehouse's Kubernetes manifests, a kustomize base
// in base/. Base embeds them so that tests and the demo apply the same CRDs
// and webhook configurations that ship.
package manifests

import "embed"

// Base is the kustomize base: base/kustomization.yaml and the files it lists.
//
//go:embed base
var Base embed.FS
