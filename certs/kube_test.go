package certs

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func secretStore(client *fake.Clientset) *SecretStore {
	return &SecretStore{Client: client, Namespace: "gatehouse-system", Name: "gatehouse-ca", Now: func() time.Time { return t0 }}
}

func TestSecretStore(t *testing.T) {
	ctx := context.Background()
	a, b := mustCA(t, t0, time.Hour), mustCA(t, t0, time.Hour)
	rotated, err := a.Rotate(t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	conflictOnUpdate := func(c *fake.Clientset) {
		c.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "gatehouse-ca", errors.New("modified"))
		})
	}
	corrupt := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "gatehouse-system", Name: "gatehouse-ca"}, Data: map[string][]byte{SecretCertKey: []byte("x")}}
	tests := []struct {
		name     string
		objects  []runtime.Object
		setup    func(*testing.T, *SecretStore, *fake.Clientset)
		do       func(*SecretStore) error
		wantErr  error  // errors.Is
		wantText string // or a substring
		wantCA   *CA    // then stored
	}{
		{name: "load of a missing secret", do: func(s *SecretStore) error { _, err := s.Load(ctx); return err }, wantErr: ErrNoCA},
		{name: "create", do: func(s *SecretStore) error { return s.Create(ctx, a) }, wantCA: a},
		{
			name:  "create when one exists",
			setup: func(t *testing.T, s *SecretStore, _ *fake.Clientset) { mustDo(t, s.Create(ctx, a)) },
			do:    func(s *SecretStore) error { return s.Create(ctx, b) }, wantErr: ErrExists, wantCA: a,
		},
		{
			name:  "replace",
			setup: func(t *testing.T, s *SecretStore, _ *fake.Clientset) { mustDo(t, s.Create(ctx, a)) },
			do:    func(s *SecretStore) error { return s.Replace(ctx, a, rotated) }, wantCA: rotated,
		},
		{
			name:  "replace when the stored CA differs",
			setup: func(t *testing.T, s *SecretStore, _ *fake.Clientset) { mustDo(t, s.Create(ctx, b)) },
			do:    func(s *SecretStore) error { return s.Replace(ctx, a, rotated) }, wantErr: ErrConflict, wantCA: b,
		},
		{
			name: "replace losing the update race",
			setup: func(t *testing.T, s *SecretStore, c *fake.Clientset) {
				mustDo(t, s.Create(ctx, a))
				conflictOnUpdate(c)
			},
			do: func(s *SecretStore) error { return s.Replace(ctx, a, rotated) }, wantErr: ErrConflict, wantCA: a,
		},
		{
			name:    "replace of a corrupt secret",
			objects: []runtime.Object{corrupt},
			do:      func(s *SecretStore) error { return s.Replace(ctx, a, rotated) }, wantErr: ErrConflict,
		},
		{
			name:    "load of a corrupt secret says how to recover",
			objects: []runtime.Object{corrupt},
			do:      func(s *SecretStore) error { _, err := s.Load(ctx); return err }, wantText: "delete it",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.objects...)
			s := secretStore(client)
			if tt.setup != nil {
				tt.setup(t, s, client)
			}
			err := tt.do(s)
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("got %v, want %v", err, tt.wantErr)
			case tt.wantText != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.wantText))):
				t.Errorf("got %v, want an error containing %q", err, tt.wantText)
			case tt.wantErr == nil && tt.wantText == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			}
			if tt.wantCA == nil {
				return
			}
			got, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Cert.Equal(tt.wantCA.Cert) || !got.Key.Equal(tt.wantCA.Key) || len(got.Previous) != len(tt.wantCA.Previous) {
				t.Errorf("stored CA is not the one expected")
			}
			sec, err := client.CoreV1().Secrets("gatehouse-system").Get(ctx, "gatehouse-ca", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sec.Type != corev1.SecretTypeOpaque || sec.Labels["app.kubernetes.io/name"] != "gatehouse" {
				t.Errorf("secret type %q labels %v", sec.Type, sec.Labels)
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func webhookConfigs(bundle []byte) (*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration) {
	cc := admissionregistrationv1.WebhookClientConfig{CABundle: bundle}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "gatehouse"},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{{Name: "pods.gatehouse.dev", ClientConfig: cc}, {Name: "workloads.gatehouse.dev", ClientConfig: cc}},
	}
	m := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "gatehouse"},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{{Name: "pin.gatehouse.dev", ClientConfig: cc}},
	}
	return v, m
}

func TestWebhookBundle(t *testing.T) {
	ctx := context.Background()
	bundle := mustCA(t, t0, time.Hour).Bundle(t0)
	stale, _ := webhookConfigs([]byte("old"))
	_, staleM := webhookConfigs(nil)
	current, currentM := webhookConfigs(bundle)
	mixed, _ := webhookConfigs(bundle)
	mixed.Webhooks[1].ClientConfig.CABundle = nil
	tests := []struct {
		name        string
		objects     []runtime.Object
		conflicts   int      // updates refused with a conflict first
		wantUpdates []string // resources updated
		wantBundled []string // configurations holding the bundle after
	}{
		{"both stale", []runtime.Object{stale, staleM}, 0, []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"}, []string{"validating", "mutating"}},
		{"already equal: no update", []runtime.Object{current, currentM}, 0, nil, []string{"validating", "mutating"}},
		{"one webhook drifted", []runtime.Object{mixed, currentM}, 0, []string{"validatingwebhookconfigurations"}, []string{"validating", "mutating"}},
		{"none installed", nil, 0, nil, nil},
		{"only the validating one installed", []runtime.Object{stale}, 0, []string{"validatingwebhookconfigurations"}, []string{"validating"}},
		{"only the mutating one installed", []runtime.Object{staleM}, 0, []string{"mutatingwebhookconfigurations"}, []string{"mutating"}},
		{"conflict retried", []runtime.Object{stale, staleM}, 1, []string{"validatingwebhookconfigurations", "validatingwebhookconfigurations", "mutatingwebhookconfigurations"}, []string{"validating", "mutating"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			for _, o := range tt.objects {
				objs = append(objs, o.DeepCopyObject())
			}
			client := fake.NewClientset(objs...)
			conflicts := tt.conflicts
			client.PrependReactor("update", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
				if conflicts > 0 {
					conflicts--
					return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "validatingwebhookconfigurations"}, "gatehouse", errors.New("modified"))
				}
				return false, nil, nil
			})
			w := &WebhookBundle{Client: client, Name: "gatehouse"}
			if err := w.WriteBundle(ctx, bundle); err != nil {
				t.Fatal(err)
			}
			var updates []string
			for _, a := range client.Actions() {
				if a.GetVerb() == "update" {
					updates = append(updates, a.GetResource().Resource)
				}
			}
			if !slices.Equal(updates, tt.wantUpdates) {
				t.Errorf("updates %v, want %v", updates, tt.wantUpdates)
			}
			var bundled []string
			if v, err := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "gatehouse", metav1.GetOptions{}); err == nil {
				for _, wh := range v.Webhooks {
					if !bytes.Equal(wh.ClientConfig.CABundle, bundle) {
						t.Errorf("validating webhook %s has caBundle %q", wh.Name, wh.ClientConfig.CABundle)
					}
				}
				bundled = append(bundled, "validating")
			}
			if m, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "gatehouse", metav1.GetOptions{}); err == nil {
				for _, wh := range m.Webhooks {
					if !bytes.Equal(wh.ClientConfig.CABundle, bundle) {
						t.Errorf("mutating webhook %s has caBundle %q", wh.Name, wh.ClientConfig.CABundle)
					}
				}
				bundled = append(bundled, "mutating")
			}
			if !slices.Equal(bundled, tt.wantBundled) {
				t.Errorf("configurations present %v, want %v", bundled, tt.wantBundled)
			}
		})
	}
}

func TestWebhookBundleGetError(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("get", "validatingwebhookconfigurations", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "validatingwebhookconfigurations"}, "gatehouse", errors.New("RBAC"))
	})
	err := (&WebhookBundle{Client: client, Name: "gatehouse"}).WriteBundle(context.Background(), []byte("x"))
	if !apierrors.IsForbidden(err) {
		t.Errorf("WriteBundle = %v, want the Forbidden error", err)
	}
}

// TestSelfManagedInCluster wires SelfManaged to the Secret and the webhook
// configurations, as `gatehouse serve` does.
func TestSelfManagedInCluster(t *testing.T) {
	ctx := context.Background()
	v, m := webhookConfigs(nil)
	client := fake.NewClientset(v, m)
	clock := newClock()
	store := &SecretStore{Client: client, Namespace: "gatehouse-system", Name: "gatehouse-ca", Now: clock.Now}
	s := newSelfManaged(t, store, clock, &WebhookBundle{Client: client, Name: "gatehouse"})
	mustDo(t, s.Refresh(ctx))
	ca, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "gatehouse", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyLeaf(current(t, s), bundlePool(t, got.Webhooks[0].ClientConfig.CABundle), "gatehouse.test", clock.Now()); err != nil {
		t.Errorf("serving certificate does not verify against the published caBundle: %v", err)
	}
	if !bytes.Equal(got.Webhooks[0].ClientConfig.CABundle, ca.Bundle(clock.Now())) {
		t.Error("published caBundle is not the stored CA's bundle")
	}
}
