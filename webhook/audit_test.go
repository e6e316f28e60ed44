package webhook

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
	"gatehouse.dev/gatehouse/verify/attest"
	"gatehouse.dev/gatehouse/verify/verifytest"
)

// The audit line holds each image's verification with attestations
// summarized: an SBOM's component count, not its components.
func TestAuditLineSummarizesAttestations(t *testing.T) {
	var logs bytes.Buffer
	builder := verifytest.NewKey(t)
	f := newFixture(t, func(c *Config) { c.Log = slog.New(slog.NewJSONHandler(&logs, nil)) }, func(s *v1alpha1.ImagePolicySpec) {
		s.Attestations = []v1alpha1.AttestationRequirement{{Name: "sbom", PredicateType: "cyclonedx",
			Authorities: []v1alpha1.Authority{{Name: "builder", Key: &v1alpha1.KeyAuthority{Data: builder.PublicPEM}}}}}
	})
	d, err := v1.NewHash(f.signedDigest)
	if err != nil {
		t.Fatal(err)
	}
	verifytest.Attest(t, f.host+"/app/signed", d, builder, attest.CycloneDX,
		[]byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"very-secret-internal-lib","version":"1"},{"name":"b"},{"name":"c"}]}`))
	if resp := f.validate(t, pod("p", f.signed+"@"+f.signedDigest), reviewOpts{}); !resp.Allowed {
		t.Fatalf("denied: %s", msg(resp))
	}
	var line struct {
		Decision string `json:"decision"`
		Images   []struct {
			Result struct {
				Digest       string `json:"digest"`
				Attestations []struct {
					Kind       string `json:"kind"`
					SBOMFormat string `json:"sbomFormat"`
					Components int    `json:"components"`
				} `json:"attestations"`
			} `json:"result"`
		} `json:"images"`
	}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(l, `"msg":"admission decision"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line.Decision != "allow" || len(line.Images) != 1 || len(line.Images[0].Result.Attestations) != 1 {
		t.Fatalf("audit line %+v\n%s", line, logs.String())
	}
	a := line.Images[0].Result.Attestations[0]
	if a.Kind != "sbom" || a.SBOMFormat != "cyclonedx" || a.Components != 3 || strings.Contains(logs.String(), "very-secret-internal-lib") {
		t.Fatalf("attestation in the audit line: %+v\n%s", a, logs.String())
	}
}
