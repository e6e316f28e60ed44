//go:build tools

// Package tools pins the zot build used by the e2e tests.
package tools

import _ "zotregistry.io/zot/cmd/zot"
