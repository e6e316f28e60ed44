package stack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"gatehouse.dev/gatehouse/e2e/env"
	"gatehouse.dev/gatehouse/manifests"
	"gatehouse.dev/gatehouse/policy"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs creates the shipped CRDs and waits until they are served.
func InstallCRDs(ctx context.Context, dyn dynamic.Interface) error {
	files, err := fs.Glob(manifests.Base, "base/crds/*.yaml")
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRDs in manifests: %v", err)
	}
	for _, f := range files {
		var obj unstructured.Unstructured
		if err := readYAML(f, &obj.Object); err != nil {
			return err
		}
		if _, err := dyn.Resource(crdResource).Create(ctx, &obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s: %w", f, err)
		}
	}
	return env.WaitFor(ctx, "policy CRDs served", func(ctx context.Context) error {
		for _, r := range []schema.GroupVersionResource{policy.ClusterImagePolicies, policy.ImagePolicies} {
			if _, err := dyn.Resource(r).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
				return err
			}
		}
		return nil
	})
}

func readYAML(name string, into any) error {
	data, err := fs.ReadFile(manifests.Base, name)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// webhookDocs reads the two webhook configurations from the shipped YAML.
func webhookDocs() (*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration, error) {
	data, err := fs.ReadFile(manifests.Base, path.Join("base", "webhooks.yaml"))
	if err != nil {
		return nil, nil, err
	}
	docs, err := splitYAML(data)
	if err != nil {
		return nil, nil, err
	}
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	var m admissionregistrationv1.MutatingWebhookConfiguration
	for _, d := range docs {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(d, &meta); err != nil {
			return nil, nil, err
		}
		switch meta.Kind {
		case "ValidatingWebhookConfiguration":
			err = yaml.UnmarshalStrict(d, &v)
		case "MutatingWebhookConfiguration":
			err = yaml.UnmarshalStrict(d, &m)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if v.Name == "" || m.Name == "" {
		return nil, nil, fmt.Errorf("webhooks.yaml: want a Validating and a Mutating webhook configuration")
	}
	return &v, &m, nil
}

// installWebhooks creates the shipped webhook configurations, still pointing
// at the in-cluster Service; StartGatehouse points them at the local URL.
func (s *Stack) installWebhooks(ctx context.Context) error {
	v, m, err := webhookDocs()
	if err != nil {
		return err
	}
	api := s.Client.AdmissionregistrationV1()
	if _, err := api.ValidatingWebhookConfigurations().Create(ctx, v, metav1.CreateOptions{}); err != nil {
		return err
	}
	_, err = api.MutatingWebhookConfigurations().Create(ctx, m, metav1.CreateOptions{})
	return err
}

// pointWebhooksAt replaces each webhook's Service with url + its path, as a
// gatehouse outside the cluster needs. caBundle is left to gatehouse.
func (s *Stack) pointWebhooksAt(base string) error {
	ctx := context.Background()
	api := s.Client.AdmissionregistrationV1()
	v, err := api.ValidatingWebhookConfigurations().Get(ctx, "gatehouse", metav1.GetOptions{})
	if err != nil {
		return err
	}
	for i := range v.Webhooks {
		v.Webhooks[i].ClientConfig = localClient(v.Webhooks[i].ClientConfig, base)
	}
	if _, err := api.ValidatingWebhookConfigurations().Update(ctx, v, metav1.UpdateOptions{}); err != nil {
		return err
	}
	m, err := api.MutatingWebhookConfigurations().Get(ctx, "gatehouse", metav1.GetOptions{})
	if err != nil {
		return err
	}
	for i := range m.Webhooks {
		m.Webhooks[i].ClientConfig = localClient(m.Webhooks[i].ClientConfig, base)
	}
	_, err = api.MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{})
	return err
}

func localClient(c admissionregistrationv1.WebhookClientConfig, base string) admissionregistrationv1.WebhookClientConfig {
	p := ""
	if c.Service != nil && c.Service.Path != nil {
		p = *c.Service.Path
	}
	if c.URL != nil { // already local: keep the path
		if u, err := url.Parse(*c.URL); err == nil {
			p = u.Path
		}
	}
	u := base + p
	return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: c.CABundle}
}

func splitYAML(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, doc)
	}
}
