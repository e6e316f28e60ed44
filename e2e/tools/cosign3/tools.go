//go:build tools

// Package tools pins the cosign v3 build used by the e2e tests.
package tools

import _ "github.com/sigstore/cosign/v3/cmd/cosign"
