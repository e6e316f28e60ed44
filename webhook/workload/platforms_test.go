package workload

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func affinity(terms ...[]corev1.NodeSelectorRequirement) *corev1.Affinity {
	var ts []corev1.NodeSelectorTerm
	for _, t := range terms {
		ts = append(ts, corev1.NodeSelectorTerm{MatchExpressions: t})
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: ts}}}
}

func in(label string, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: label, Operator: corev1.NodeSelectorOpIn, Values: values}
}

func TestPlatforms(t *testing.T) {
	tests := []struct {
		name     string
		spec     corev1.PodSpec
		wantOS   []string
		wantArch []string
	}{
		{name: "unconstrained: linux, any arch", wantOS: []string{"linux"}},
		{name: "nodeSelector arch", spec: corev1.PodSpec{NodeSelector: map[string]string{labelArch: "arm64"}}, wantOS: []string{"linux"}, wantArch: []string{"arm64"}},
		{name: "windows", spec: corev1.PodSpec{NodeSelector: map[string]string{labelOS: "windows"}}, wantOS: []string{"windows"}},
		{name: "affinity In", spec: corev1.PodSpec{Affinity: affinity([]corev1.NodeSelectorRequirement{in(labelArch, "amd64", "arm64")})}, wantOS: []string{"linux"}, wantArch: []string{"amd64", "arm64"}},
		{name: "terms are ORed", spec: corev1.PodSpec{Affinity: affinity([]corev1.NodeSelectorRequirement{in(labelArch, "amd64")}, []corev1.NodeSelectorRequirement{in(labelArch, "s390x")})},
			wantOS: []string{"linux"}, wantArch: []string{"amd64", "s390x"}},
		{name: "a term without arch allows any", spec: corev1.PodSpec{Affinity: affinity([]corev1.NodeSelectorRequirement{in(labelArch, "amd64")}, []corev1.NodeSelectorRequirement{in("zone", "a")})},
			wantOS: []string{"linux"}},
		{name: "nodeSelector narrowed by affinity", spec: corev1.PodSpec{NodeSelector: map[string]string{labelArch: "arm64"}, Affinity: affinity([]corev1.NodeSelectorRequirement{in(labelArch, "amd64", "arm64")})},
			wantOS: []string{"linux"}, wantArch: []string{"arm64"}},
		{name: "contradiction: no arch at all", spec: corev1.PodSpec{NodeSelector: map[string]string{labelArch: "arm64"}, Affinity: affinity([]corev1.NodeSelectorRequirement{in(labelArch, "amd64")})},
			wantOS: []string{"linux"}, wantArch: []string{}},
		{name: "NotIn does not narrow", spec: corev1.PodSpec{Affinity: affinity([]corev1.NodeSelectorRequirement{{Key: labelArch, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"arm64"}}})},
			wantOS: []string{"linux"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &Workload{Spec: &tc.spec}
			os, arch := w.Platforms()
			if !slices.Equal(os, tc.wantOS) || !slices.Equal(arch, tc.wantArch) || (tc.wantArch != nil && arch == nil) {
				t.Fatalf("os %q arch %q, want %q %q", os, arch, tc.wantOS, tc.wantArch)
			}
		})
	}
}
