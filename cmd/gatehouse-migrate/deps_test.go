package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The webhook binary must never link policy-controller's types, nor the
// cloud KMS SDKs they pull in: only this converter may.
func TestWebhookBinaryStaysLean(t *testing.T) {
	banned := []string{
		"github.com/sigstore/policy-controller",
		"gatehouse.dev/gatehouse/policy/migrate",
		"github.com/sigstore/sigstore/pkg/signature/kms",
		"cloud.google.com/go/kms",
		"github.com/aws/aws-sdk-go-v2/service/kms",
		"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault",
		"github.com/hashicorp/vault",
	}
	webhook := deps(t, "gatehouse.dev/gatehouse/cmd/gatehouse")
	for _, pkg := range webhook {
		for _, b := range banned {
			if pkg == b || strings.HasPrefix(pkg, b+"/") {
				t.Errorf("cmd/gatehouse depends on %s", pkg)
			}
		}
	}
	// The check must be able to fail: the converter does depend on them.
	if !slices.Contains(deps(t, "gatehouse.dev/gatehouse/cmd/gatehouse-migrate"), banned[0]+"/pkg/apis/policy/v1beta1") {
		t.Error("go list -deps of cmd/gatehouse-migrate does not list policy-controller: is the check still looking at the right packages?")
	}
}

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
