package policy

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// fakeSecrets is a SecretReader over a map "namespace/name" -> data.
type fakeSecrets map[string]map[string][]byte

func (f fakeSecrets) SecretData(_ context.Context, namespace, name string) (map[string][]byte, error) {
	d, ok := f[namespace+"/"+name]
	if !ok {
		return nil, errors.New("secrets \"" + name + "\" not found")
	}
	return d, nil
}

func secretKeyPolicy(kind, namespace string, ref v1alpha1.SecretKeyRef) Object {
	return Object{Kind: kind, Namespace: namespace, Name: "p", Spec: v1alpha1.ImagePolicySpec{
		Images:      globs("registry.example.com/**"),
		Authorities: []v1alpha1.Authority{{Name: "ci", Key: &v1alpha1.KeyAuthority{SecretRef: &ref}}},
	}}
}

func TestKeysFromSecrets(t *testing.T) {
	pem := newKeyPEM(t)
	secrets := fakeSecrets{
		"gatehouse-system/ci-key": {"cosign.pub": []byte(pem)},
		"team/ci-key":             {"key.pem": []byte(pem)},
	}
	cip, ip := v1alpha1.KindClusterImagePolicy, v1alpha1.KindImagePolicy
	tests := []compileCase{
		{name: "cluster policy, default key", o: secretKeyPolicy(cip, "", v1alpha1.SecretKeyRef{Namespace: "gatehouse-system", Name: "ci-key"}), cluster: secrets},
		{name: "image policy, own namespace by default", o: secretKeyPolicy(ip, "team", v1alpha1.SecretKeyRef{Name: "ci-key", Key: "key.pem"}), cluster: secrets},
		{name: "image policy, another namespace", o: secretKeyPolicy(ip, "team", v1alpha1.SecretKeyRef{Namespace: "gatehouse-system", Name: "ci-key"}), cluster: secrets,
			wantErr: "an ImagePolicy may only read Secrets in its own namespace (team)"},
		{name: "cluster policy without namespace", o: secretKeyPolicy(cip, "", v1alpha1.SecretKeyRef{Name: "ci-key"}), cluster: secrets,
			wantErr: "key.secretRef.namespace is required"},
		{name: "missing Secret", o: secretKeyPolicy(cip, "", v1alpha1.SecretKeyRef{Namespace: "gatehouse-system", Name: "nope"}), cluster: secrets,
			wantErr: "reading Secret gatehouse-system/nope"},
		{name: "missing key names the keys there", o: secretKeyPolicy(ip, "team", v1alpha1.SecretKeyRef{Name: "ci-key"}), cluster: secrets,
			wantErr: `has no key "cosign.pub" (it has: key.pem)`},
		{name: "no cluster", o: secretKeyPolicy(cip, "", v1alpha1.SecretKeyRef{Namespace: "gatehouse-system", Name: "ci-key"}),
			wantErr: "needs a cluster"},
		{name: "both data and secretRef", o: func() Object {
			o := secretKeyPolicy(cip, "", v1alpha1.SecretKeyRef{Namespace: "gatehouse-system", Name: "ci-key"})
			o.Spec.Authorities[0].Key.Data = pem
			return o
		}(), cluster: secrets, wantErr: "not both"},
	}
	runCompileCases(t, tests)
}

// A rotated key in the Secret takes effect at the next Resync; a broken
// one is refused and the last good key keeps serving.
func TestResyncRereadsSecrets(t *testing.T) {
	first, second := newKeyPEM(t), newKeyPEM(t)
	secrets := fakeSecrets{"gatehouse-system/ci-key": {"cosign.pub": []byte(first)}}
	s := NewStore()
	s.UseSecrets(secrets)
	o := secretKeyPolicy(v1alpha1.KindClusterImagePolicy, "", v1alpha1.SecretKeyRef{Namespace: "gatehouse-system", Name: "ci-key"})
	if err := s.Apply(o); err != nil {
		t.Fatal(err)
	}
	keyID := func() string { return s.Snapshot().cluster[0].Authorities[0].Key.ID }
	before, rev := keyID(), s.Snapshot().Revision
	// An unchanged Secret publishes nothing: no revalidation pass, no new
	// last-change time.
	if err := s.Resync(); err != nil || s.Snapshot().Revision != rev {
		t.Fatalf("resync of an unchanged Secret: error %v, revision %d, want %d", err, s.Snapshot().Revision, rev)
	}
	secrets["gatehouse-system/ci-key"]["cosign.pub"] = []byte(second)
	if err := s.Resync(); err != nil {
		t.Fatal(err)
	}
	if keyID() == before || s.Snapshot().Revision == rev {
		t.Fatal("the rotated key did not take effect")
	}
	rotated := keyID()
	secrets["gatehouse-system/ci-key"]["cosign.pub"] = []byte("garbage")
	if err := s.Resync(); err == nil || keyID() != rotated || len(s.Errors()) != 1 {
		t.Fatalf("broken key: err %v, key kept %v, errors %v", err, keyID() == rotated, s.Errors())
	}
}

// ConfigMapData returns binary data (an archive kubectl stored from a
// file) next to text data.
func TestKubeSecretsConfigMapBinaryData(t *testing.T) {
	client := fake.NewClientset(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "gatehouse-system", Name: "tuf"},
		Data:       map[string]string{"root.json": "{}"},
		BinaryData: map[string][]byte{"mirror.tar.gz": {0x1f, 0x8b, 0xff}},
	})
	data, err := KubeSecrets{Client: client}.ConfigMapData(context.Background(), "gatehouse-system", "tuf")
	if err != nil {
		t.Fatal(err)
	}
	if data["root.json"] != "{}" || data["mirror.tar.gz"] != "\x1f\x8b\xff" {
		t.Fatalf("data %q", data)
	}
}
