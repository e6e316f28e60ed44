//go:build tools

// Package tools pins the notation build used by the e2e tests.
package tools

import _ "github.com/notaryproject/notation/cmd/notation"
