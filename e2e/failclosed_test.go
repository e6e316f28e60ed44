package e2e

import (
	"strings"
	"testing"
)

// With gatehouse down and failurePolicy Fail, the API server refuses pods,
// even signed ones: nothing is admitted unverified.
func TestGatehouseDownMeansPodsAreRefused(t *testing.T) {
	ctx := need(t)
	if err := suite.StopGatehouse(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := suite.StartGatehouse(ctx); err != nil {
			t.Fatalf("restarting gatehouse: %v", err)
		}
	}()
	_, err := createPod(ctx, newPod("while-down", suite.signed), false)
	if err == nil {
		t.Fatal("pod admitted while gatehouse was down")
	}
	if !strings.Contains(err.Error(), "failed calling webhook") {
		t.Fatalf("refused, but not for the webhook: %v", err)
	}
}
