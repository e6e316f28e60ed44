package policy

import (
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

func threshold(k int32) *int32 { return &k }

func thresholdSpec(t *testing.T, k *int32, require v1alpha1.Requirement, n int) v1alpha1.ImagePolicySpec {
	t.Helper()
	s := v1alpha1.ImagePolicySpec{Images: globs("registry.example.com/**"), Threshold: k, Require: require}
	for _, name := range []string{"alice", "bob", "carol"}[:n] {
		s.Authorities = append(s.Authorities, keyAuthority(name, newKeyPEM(t)))
	}
	return s
}

func TestThresholdEvaluate(t *testing.T) {
	p := mustCompile(t, clusterPolicy("release", thresholdSpec(t, threshold(2), "", 3)))
	const pre = "ClusterImagePolicy/release/"
	tests := []struct {
		name       string
		signedBy   []string
		wantPassed bool
		want       string
	}{
		{name: "2 of 3", signedBy: []string{pre + "alice", pre + "carol"}, wantPassed: true},
		{name: "3 of 3", signedBy: []string{pre + "alice", pre + "bob", pre + "carol"}, wantPassed: true},
		{name: "1 of 3 is one short", signedBy: []string{pre + "bob"}, want: "2 of its 3 authorities (1 found)"},
		{name: "none", want: "2 of its 3 authorities (0 found)"},
		{name: "a signer of another policy does not count", signedBy: []string{pre + "alice", "ClusterImagePolicy/other/bob"}, want: "(1 found)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := p.Evaluate(result(len(tc.signedBy), tc.signedBy...))
			if o.Passed != tc.wantPassed || !strings.Contains(o.Message, tc.want) {
				t.Fatalf("passed %v message %q; want %v and %q", o.Passed, o.Message, tc.wantPassed, tc.want)
			}
		})
	}
}

func TestThresholdCompile(t *testing.T) {
	sameKey := thresholdSpec(t, threshold(2), "", 2)
	sameKey.Authorities[1].Key = sameKey.Authorities[0].Key
	tests := []struct {
		name     string
		spec     v1alpha1.ImagePolicySpec
		wantNeed int
		wantErr  string
	}{
		{name: "default: all", spec: thresholdSpec(t, nil, "", 3), wantNeed: 3},
		{name: "any", spec: thresholdSpec(t, nil, v1alpha1.RequireAny, 3), wantNeed: 1},
		{name: "2 of 3", spec: thresholdSpec(t, threshold(2), "", 3), wantNeed: 2},
		{name: "zero", spec: thresholdSpec(t, threshold(0), "", 3), wantErr: "spec.threshold 0: must be between 1 and the number of authorities (3)"},
		{name: "more than authorities", spec: thresholdSpec(t, threshold(4), "", 3), wantErr: "between 1 and the number of authorities (3)"},
		{name: "with require", spec: thresholdSpec(t, threshold(2), v1alpha1.RequireAll, 3), wantErr: "cannot both be set"},
		{name: "one key under two names", spec: sameKey, wantErr: `same key as authority "alice"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(clusterPolicy("k", tc.spec))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || p.Need != tc.wantNeed {
				t.Fatalf("need %v err %v, want %d", p, err, tc.wantNeed)
			}
		})
	}
}
