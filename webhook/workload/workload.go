// Package workload finds the pod spec inside every kind of object that makes
// pods, and walks every image reference in it: containers, init containers
// (sidecars included), ephemeral containers and image volumes. It is the one
// place that knows where images live.
package workload

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
)

// Workload is a decoded object that makes pods.
type Workload struct {
	Kind     string // Pod, Deployment, ...
	Meta     metav1.ObjectMeta
	Spec     *corev1.PodSpec // nil when a template is absent
	SpecPath string          // JSON pointer to Spec, e.g. /spec/template/spec
}

// IsPod reports whether the object is a Pod (rather than a template).
func (w *Workload) IsPod() bool { return w.Kind == "Pod" }

// Supported reports whether Decode knows the kind.
func Supported(gk schema.GroupKind) bool {
	_, ok := decoders[gk]
	return ok
}

type decoder func(raw []byte) (*Workload, error)

var decoders = map[schema.GroupKind]decoder{
	{Group: "", Kind: "Pod"}: decodeInto(func(o *corev1.Pod) (metav1.ObjectMeta, *corev1.PodSpec, string) {
		return o.ObjectMeta, &o.Spec, "/spec"
	}),
	{Group: "", Kind: "ReplicationController"}: decodeInto(func(o *corev1.ReplicationController) (metav1.ObjectMeta, *corev1.PodSpec, string) {
		if o.Spec.Template == nil {
			return o.ObjectMeta, nil, ""
		}
		return o.ObjectMeta, &o.Spec.Template.Spec, "/spec/template/spec"
	}),
	{Group: "apps", Kind: "Deployment"}: decodeInto(template(func(o *appsv1.Deployment) (metav1.ObjectMeta, *corev1.PodTemplateSpec) {
		return o.ObjectMeta, &o.Spec.Template
	})),
	{Group: "apps", Kind: "ReplicaSet"}: decodeInto(template(func(o *appsv1.ReplicaSet) (metav1.ObjectMeta, *corev1.PodTemplateSpec) {
		return o.ObjectMeta, &o.Spec.Template
	})),
	{Group: "apps", Kind: "StatefulSet"}: decodeInto(template(func(o *appsv1.StatefulSet) (metav1.ObjectMeta, *corev1.PodTemplateSpec) {
		return o.ObjectMeta, &o.Spec.Template
	})),
	{Group: "apps", Kind: "DaemonSet"}: decodeInto(template(func(o *appsv1.DaemonSet) (metav1.ObjectMeta, *corev1.PodTemplateSpec) {
		return o.ObjectMeta, &o.Spec.Template
	})),
	{Group: "batch", Kind: "Job"}: decodeInto(template(func(o *batchv1.Job) (metav1.ObjectMeta, *corev1.PodTemplateSpec) {
		return o.ObjectMeta, &o.Spec.Template
	})),
	{Group: "batch", Kind: "CronJob"}: decodeInto(func(o *batchv1.CronJob) (metav1.ObjectMeta, *corev1.PodSpec, string) {
		return o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec, "/spec/jobTemplate/spec/template/spec"
	}),
}

func template[T any](get func(*T) (metav1.ObjectMeta, *corev1.PodTemplateSpec)) func(*T) (metav1.ObjectMeta, *corev1.PodSpec, string) {
	return func(o *T) (metav1.ObjectMeta, *corev1.PodSpec, string) {
		meta, t := get(o)
		return meta, &t.Spec, "/spec/template/spec"
	}
}

func decodeInto[T any](get func(*T) (metav1.ObjectMeta, *corev1.PodSpec, string)) decoder {
	return func(raw []byte) (*Workload, error) {
		var o T
		strictErrs, err := kjson.UnmarshalStrict(raw, &o, kjson.DisallowDuplicateFields)
		if err != nil {
			return nil, err
		}
		if len(strictErrs) > 0 {
			return nil, fmt.Errorf("duplicate field: %v", strictErrs[0])
		}
		meta, spec, path := get(&o)
		return &Workload{Meta: meta, Spec: spec, SpecPath: path}, nil
	}
}

// Decode decodes raw as the object of kind gk.
func Decode(gk schema.GroupKind, raw []byte) (*Workload, error) {
	d, ok := decoders[gk]
	if !ok {
		return nil, fmt.Errorf("kind %s is not a pod or pod controller", gk)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: empty object", gk.Kind)
	}
	w, err := d(raw)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", gk.Kind, err)
	}
	w.Kind = gk.Kind
	return w, nil
}
