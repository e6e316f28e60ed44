package verify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"gatehouse.dev/gatehouse/verify/sigstorebundle"
)

// The GitHub Actions extensions of a Fulcio certificate reach the result
// (the virtual Sigstore's certificates carry none, so this maps a summary).
func TestKeylessSignatureFields(t *testing.T) {
	at := time.Unix(1_700_000_000, 0).UTC()
	v := &sigstorebundle.Verified{
		Certificate: certificate.Summary{
			SubjectAlternativeName: "https://github.com/org/app/.github/workflows/release.yaml@refs/tags/v1",
			Extensions: certificate.Extensions{
				Issuer: "https://token.actions.githubusercontent.com", GithubWorkflowRepository: "org/app", GithubWorkflowRef: "refs/tags/v1",
				GithubWorkflowName: "release", GithubWorkflowSHA: "0123abcd", GithubWorkflowTrigger: "push",
				SourceRepositoryURI: "https://github.com/org/app", RunnerEnvironment: "github-hosted",
			},
		},
		LogEntries: []sigstorebundle.LogEntry{{LogID: "ab12", Index: 7, IntegratedTime: at}, {LogID: "cd34", Index: 9}},
		Timestamps: []sgverify.TimestampVerificationResult{{Type: "Tlog", URI: "https://rekor", Timestamp: at}, {Type: "TimestampAuthority", Timestamp: at}},
	}
	got, err := json.Marshal(keylessSignature(v, TypeCosignKeylessBundle))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"authority":"","type":"cosign-keyless-bundle",` +
		`"certificate":{"subject":"https://github.com/org/app/.github/workflows/release.yaml@refs/tags/v1","issuer":"https://token.actions.githubusercontent.com",` +
		`"githubWorkflowRepository":"org/app","githubWorkflowRef":"refs/tags/v1","githubWorkflowName":"release","githubWorkflowSHA":"0123abcd","githubWorkflowTrigger":"push",` +
		`"sourceRepositoryURI":"https://github.com/org/app","runnerEnvironment":"github-hosted"},` +
		`"logEntries":[{"logID":"ab12","index":7,"integratedTime":"2023-11-14T22:13:20Z"},{"logID":"cd34","index":9}],` +
		`"timestamps":[{"source":"tlog","uri":"https://rekor","time":"2023-11-14T22:13:20Z"},{"source":"tsa","time":"2023-11-14T22:13:20Z"}]}`
	if string(got) != want {
		t.Errorf("JSON\n%s\nwant\n%s", got, want)
	}
}
