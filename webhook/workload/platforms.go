package workload

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Node labels that decide where a pod can run.
const (
	labelOS   = "kubernetes.io/os"
	labelArch = "kubernetes.io/arch"
)

// Platforms returns the operating systems and architectures the pod can be
// scheduled on, from its nodeSelector and required node affinity on
// kubernetes.io/os and kubernetes.io/arch. An empty list means any; the OS
// defaults to linux when nothing constrains it, as a pod without a
// selector never lands on a Windows node in a mixed cluster that taints
// them.
func (w *Workload) Platforms() (os, arch []string) {
	if w.Spec == nil {
		return []string{"linux"}, nil
	}
	os, arch = selected(w.Spec, labelOS), selected(w.Spec, labelArch)
	if os == nil {
		os = []string{"linux"}
	}
	return os, arch
}

// selected returns the values a pod allows for a node label: the
// nodeSelector's value, narrowed by the required node affinity (terms are
// ORed; a term that does not constrain the label allows any value).
func selected(spec *corev1.PodSpec, label string) []string {
	var allowed []string
	if v, ok := spec.NodeSelector[label]; ok {
		allowed = []string{v}
	}
	fromAffinity, constrained := affinityValues(spec, label)
	switch {
	case !constrained:
		return allowed
	case allowed == nil:
		return fromAffinity
	}
	return slices.DeleteFunc(allowed, func(v string) bool { return !slices.Contains(fromAffinity, v) })
}

func affinityValues(spec *corev1.PodSpec, label string) (values []string, constrained bool) {
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil, false
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		vs, ok := termValues(term, label)
		if !ok {
			return nil, false // this term allows any value, and terms are ORed
		}
		for _, v := range vs {
			if !slices.Contains(values, v) {
				values = append(values, v)
			}
		}
	}
	return values, true
}

// termValues returns the values one term allows for label (In only; other
// operators are treated as not constraining, which verifies more, never less).
func termValues(term corev1.NodeSelectorTerm, label string) ([]string, bool) {
	for _, e := range term.MatchExpressions {
		if e.Key == label && e.Operator == corev1.NodeSelectorOpIn {
			return e.Values, true
		}
	}
	return nil, false
}
