package workload

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func spec() corev1.PodSpec {
	return corev1.PodSpec{
		InitContainers:      []corev1.Container{{Name: "init", Image: "i"}},
		Containers:          []corev1.Container{{Name: "main", Image: "m"}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "e"}}},
		Volumes:             []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "v"}}}, {Name: "empty"}},
	}
}

func TestImagesOfEveryKind(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: spec()}
	cron := &batchv1.CronJob{}
	cron.Spec.JobTemplate.Spec.Template = tmpl
	tests := []struct {
		gk   schema.GroupKind
		obj  any
		base string
	}{
		{gk: schema.GroupKind{Kind: "Pod"}, obj: &corev1.Pod{Spec: spec()}, base: "/spec"},
		{gk: schema.GroupKind{Kind: "ReplicationController"}, obj: &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &tmpl}}, base: "/spec/template/spec"},
		{gk: schema.GroupKind{Group: "apps", Kind: "Deployment"}, obj: &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: tmpl}}, base: "/spec/template/spec"},
		{gk: schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, obj: &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: tmpl}}, base: "/spec/template/spec"},
		{gk: schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, obj: &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: tmpl}}, base: "/spec/template/spec"},
		{gk: schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, obj: &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: tmpl}}, base: "/spec/template/spec"},
		{gk: schema.GroupKind{Group: "batch", Kind: "Job"}, obj: &batchv1.Job{Spec: batchv1.JobSpec{Template: tmpl}}, base: "/spec/template/spec"},
		{gk: schema.GroupKind{Group: "batch", Kind: "CronJob"}, obj: cron, base: "/spec/jobTemplate/spec/template/spec"},
	}
	for _, tc := range tests {
		t.Run(tc.gk.String(), func(t *testing.T) {
			raw, _ := json.Marshal(tc.obj)
			w, err := Decode(tc.gk, raw)
			if err != nil {
				t.Fatal(err)
			}
			want := []Image{
				{Ref: "i", Path: tc.base + "/initContainers/0/image", Field: "initContainers", Name: "init"},
				{Ref: "m", Path: tc.base + "/containers/0/image", Field: "containers", Name: "main"},
				{Ref: "e", Path: tc.base + "/ephemeralContainers/0/image", Field: "ephemeralContainers", Name: "dbg"},
				{Ref: "v", Path: tc.base + "/volumes/0/image/reference", Field: "volumes", Name: "v"},
			}
			got := w.Images()
			if len(got) != len(want) {
				t.Fatalf("images %+v", got)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("image %d: %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		gk   schema.GroupKind
		raw  string
	}{
		{name: "unknown kind", gk: schema.GroupKind{Kind: "Service"}, raw: `{}`},
		{name: "empty object", gk: schema.GroupKind{Kind: "Pod"}, raw: ``},
		{name: "not JSON", gk: schema.GroupKind{Kind: "Pod"}, raw: `{`},
		{name: "duplicate field", gk: schema.GroupKind{Kind: "Pod"}, raw: `{"spec":{"containers":[{"image":"a","image":"b"}]}}`},
		{name: "field of the wrong type", gk: schema.GroupKind{Kind: "Pod"}, raw: `{"spec":{"containers":"a"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(tc.gk, []byte(tc.raw)); err == nil {
				t.Fatal("decoded")
			}
		})
	}
}

func TestChangedImagesOnUpdate(t *testing.T) {
	old := &Workload{Spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "x"}, {Name: "b", Image: "y"}}}, SpecPath: "/spec"}
	moved := &Workload{Spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "b", Image: "y"}}}, SpecPath: "/spec"}
	swapped := &Workload{Spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "x"}, {Name: "b", Image: "z"}}}, SpecPath: "/spec"}
	if got := Changed(swapped, old); len(got) != 1 || got[0].Ref != "z" {
		t.Errorf("swapped: %+v", got)
	}
	// y moved from index 1 to 0: verified again rather than risk a skip.
	if got := Changed(moved, old); len(got) != 1 || got[0].Ref != "y" {
		t.Errorf("moved: %+v", got)
	}
	if got := Changed(old, nil); len(got) != 2 {
		t.Errorf("create: %+v", got)
	}
	if got := Changed(old, old); len(got) != 0 {
		t.Errorf("unchanged: %+v", got)
	}
}
