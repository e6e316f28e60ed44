package stack

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gatehouse.dev/gatehouse/policy"
	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// PushImage pushes a small random image to the stack's registry under
// repoTag ("app/name:tag") and returns "host/app/name:tag" and its digest.
func (s *Stack) PushImage(ctx context.Context, repoTag string) (ref, digest string, err error) {
	return PushImageTo(ctx, s.Registry, repoTag)
}

// PushImageTo pushes a small random OCI image (every registry takes OCI,
// zot takes nothing else) to host under repoTag.
func PushImageTo(ctx context.Context, host, repoTag string) (ref, digest string, err error) {
	layer, err := random.Layer(256, types.OCILayer)
	if err != nil {
		return "", "", err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return "", "", err
	}
	r, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		return "", "", err
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return "", "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", "", err
	}
	return r.String(), d.String(), nil
}

// ClusterPolicy builds a ClusterImagePolicy trusting one key for globs.
func ClusterPolicy(name string, globs []string, authority, publicKeyPEM string, mode v1alpha1.Mode) *unstructured.Unstructured {
	images := []any{}
	for _, g := range globs {
		images = append(images, map[string]any{"glob": g})
	}
	spec := map[string]any{
		"images":      images,
		"authorities": []any{map[string]any{"name": authority, "key": map[string]any{"data": publicKeyPEM}}},
	}
	if mode != "" {
		spec["mode"] = string(mode)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.Group + "/" + v1alpha1.Version,
		"kind":       v1alpha1.KindClusterImagePolicy,
		"metadata":   map[string]any{"name": name},
		"spec":       spec,
	}}
}

// CreateClusterPolicy creates p in the cluster.
func (s *Stack) CreateClusterPolicy(ctx context.Context, p *unstructured.Unstructured) error {
	_, err := s.Dynamic.Resource(policy.ClusterImagePolicies).Create(ctx, p, metav1.CreateOptions{})
	return err
}
