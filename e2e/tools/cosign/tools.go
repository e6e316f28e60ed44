//go:build tools

// Package tools pins the cosign build used by the e2e tests.
package tools

import _ "github.com/sigstore/cosign/v2/cmd/cosign"
