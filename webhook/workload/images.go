package workload

import (
	"fmt"
)

// Image is one image reference in a pod spec.
type Image struct {
	// Ref is the reference as written.
	Ref string
	// Path is the JSON pointer of the field, e.g. /spec/containers/0/image.
	Path string
	// Field is the list it sits in: containers, initContainers,
	// ephemeralContainers or volumes.
	Field string
	// Name is the container's or volume's name.
	Name string
}

// Images returns every image reference in the workload's pod spec, in spec
// order.
func (w *Workload) Images() []Image {
	if w.Spec == nil {
		return nil
	}
	s, base := w.Spec, w.SpecPath
	var out []Image
	for i, c := range s.InitContainers {
		out = append(out, Image{Ref: c.Image, Path: fmt.Sprintf("%s/initContainers/%d/image", base, i), Field: "initContainers", Name: c.Name})
	}
	for i, c := range s.Containers {
		out = append(out, Image{Ref: c.Image, Path: fmt.Sprintf("%s/containers/%d/image", base, i), Field: "containers", Name: c.Name})
	}
	for i, c := range s.EphemeralContainers {
		out = append(out, Image{Ref: c.Image, Path: fmt.Sprintf("%s/ephemeralContainers/%d/image", base, i), Field: "ephemeralContainers", Name: c.Name})
	}
	for i, v := range s.Volumes {
		if v.Image != nil {
			out = append(out, Image{Ref: v.Image.Reference, Path: fmt.Sprintf("%s/volumes/%d/image/reference", base, i), Field: "volumes", Name: v.Name})
		}
	}
	return out
}

// Changed returns the images of w that old does not have at the same path
// with the same reference: on UPDATE, only these can make a pod run
// something new. With old nil every image counts as changed.
func Changed(w, old *Workload) []Image {
	all := w.Images()
	if old == nil {
		return all
	}
	before := map[string]string{}
	for _, im := range old.Images() {
		before[im.Path] = im.Ref
	}
	var out []Image
	for _, im := range all {
		if ref, ok := before[im.Path]; !ok || ref != im.Ref {
			out = append(out, im)
		}
	}
	return out
}

// ServiceAccount returns the service account the pods run as.
func (w *Workload) ServiceAccount() string {
	if w.Spec == nil || w.Spec.ServiceAccountName == "" {
		return "default"
	}
	return w.Spec.ServiceAccountName
}

// PullSecrets returns the names of the pod spec's imagePullSecrets.
func (w *Workload) PullSecrets() []string {
	if w.Spec == nil {
		return nil
	}
	var out []string
	for _, r := range w.Spec.ImagePullSecrets {
		if r.Name != "" {
			out = append(out, r.Name)
		}
	}
	return out
}
