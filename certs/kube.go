package certs

import (
	"bytes"
	"context"
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Keys of the CA Secret.
const (
	SecretCertKey = "ca.crt"
	SecretKeyKey  = "ca.key"
)

// SecretStore keeps the CA in a Kubernetes Secret shared by every replica.
type SecretStore struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	Now       func() time.Time
}

// Load implements CAStore.
func (s *SecretStore) Load(ctx context.Context) (*CA, error) {
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, ErrNoCA
	}
	if err != nil {
		return nil, err
	}
	ca, err := DecodeCA(sec.Data[SecretCertKey], sec.Data[SecretKeyKey])
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w (delete it to have gatehouse create a new CA)", s.Namespace, s.Name, err)
	}
	return ca, nil
}

// Create implements CAStore.
func (s *SecretStore) Create(ctx context.Context, ca *CA) error {
	sec, err := s.secret(ca)
	if err != nil {
		return err
	}
	_, err = s.Client.CoreV1().Secrets(s.Namespace).Create(ctx, sec, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return ErrExists
	}
	return err
}

// Replace implements CAStore.
func (s *SecretStore) Replace(ctx context.Context, old, next *CA) error {
	cur, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if stored, err := DecodeCA(cur.Data[SecretCertKey], cur.Data[SecretKeyKey]); err != nil || !stored.Cert.Equal(old.Cert) {
		return ErrConflict
	}
	sec, err := s.secret(next)
	if err != nil {
		return err
	}
	sec.ResourceVersion = cur.ResourceVersion
	_, err = s.Client.CoreV1().Secrets(s.Namespace).Update(ctx, sec, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return ErrConflict
	}
	return err
}

func (s *SecretStore) secret(ca *CA) (*corev1.Secret, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	certPEM, keyPEM, err := ca.Encode(now())
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "gatehouse"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{SecretCertKey: certPEM, SecretKeyKey: keyPEM},
	}, nil
}

// WebhookBundle writes the CA bundle into every webhook of the named
// Validating and Mutating webhook configurations, repairing drift (a
// `kubectl apply` of the manifests empties it) on every call.
type WebhookBundle struct {
	Client kubernetes.Interface
	Name   string
}

// WriteBundle implements BundleWriter. A configuration that does not exist
// is skipped: it may not be installed yet.
func (w *WebhookBundle) WriteBundle(ctx context.Context, bundle []byte) error {
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error { return w.validating(ctx, bundle) }); err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error { return w.mutating(ctx, bundle) })
}

func (w *WebhookBundle) validating(ctx context.Context, bundle []byte) error {
	api := w.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	cfg, err := api.Get(ctx, w.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var ccs []*admissionregistrationv1.WebhookClientConfig
	for i := range cfg.Webhooks {
		ccs = append(ccs, &cfg.Webhooks[i].ClientConfig)
	}
	if setBundle(bundle, ccs) {
		_, err = api.Update(ctx, cfg, metav1.UpdateOptions{})
	}
	return err
}

func (w *WebhookBundle) mutating(ctx context.Context, bundle []byte) error {
	api := w.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	cfg, err := api.Get(ctx, w.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var ccs []*admissionregistrationv1.WebhookClientConfig
	for i := range cfg.Webhooks {
		ccs = append(ccs, &cfg.Webhooks[i].ClientConfig)
	}
	if setBundle(bundle, ccs) {
		_, err = api.Update(ctx, cfg, metav1.UpdateOptions{})
	}
	return err
}

// setBundle sets every client config's caBundle and reports whether any
// changed.
func setBundle(bundle []byte, ccs []*admissionregistrationv1.WebhookClientConfig) bool {
	changed := false
	for _, cc := range ccs {
		if !bytes.Equal(cc.CABundle, bundle) {
			cc.CABundle, changed = bundle, true
		}
	}
	return changed
}
