//go:build tools

// Package tools pins the syft build the e2e tests use to make SBOMs.
package tools

import _ "github.com/anchore/syft/cmd/syft"
