// Package pullsecrets builds registry keychains from a pod's imagePullSecrets
// and its service account's, the way the kubelet would pull. Credentials are
// matched to registries by go-containerregistry's Kubernetes keychain (the
// kubelet's matching rules); verify/registry refuses to send them to any
// other host.
package pullsecrets

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	kauth "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	"k8s.io/client-go/kubernetes"
)

// Source returns the keychain for a pod.
type Source interface {
	Keychain(ctx context.Context, namespace, serviceAccount string, pullSecrets []string) (authn.Keychain, error)
}

// Anonymous is the Source for runs without a cluster: no credentials.
type Anonymous struct{}

// Keychain returns a keychain that resolves every registry to anonymous.
func (Anonymous) Keychain(context.Context, string, string, []string) (authn.Keychain, error) {
	return authn.NewMultiKeychain(), nil
}

// Cluster reads pull secrets from the API server. Keychains are kept for a
// short TTL so a burst of pods from one controller reads the secrets once.
type Cluster struct {
	client kubernetes.Interface
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]entry
}

type entry struct {
	kc      authn.Keychain
	expires time.Time
}

// NewCluster returns a Source backed by client; ttl 0 disables caching.
func NewCluster(client kubernetes.Interface, ttl time.Duration) *Cluster {
	return &Cluster{client: client, ttl: ttl, now: time.Now, entries: map[string]entry{}}
}

// Keychain returns the keychain of a pod in namespace running as
// serviceAccount with the given imagePullSecrets.
func (c *Cluster) Keychain(ctx context.Context, namespace, serviceAccount string, pullSecrets []string) (authn.Keychain, error) {
	key := cacheKey(namespace, serviceAccount, pullSecrets)
	if kc, ok := c.get(key); ok {
		return kc, nil
	}
	kc, err := kauth.New(ctx, c.client, kauth.Options{
		Namespace:          namespace,
		ServiceAccountName: serviceAccount,
		ImagePullSecrets:   pullSecrets,
	})
	if err != nil {
		return nil, err
	}
	c.put(key, kc)
	return kc, nil
}

func (c *Cluster) get(key string) (authn.Keychain, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || c.now().After(e.expires) {
		delete(c.entries, key)
		return nil, false
	}
	return e.kc, true
}

func (c *Cluster) put(key string, kc authn.Keychain) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, e := range c.entries { // drop expired entries so the map stays small
		if now.After(e.expires) {
			delete(c.entries, k)
		}
	}
	c.entries[key] = entry{kc: kc, expires: now.Add(c.ttl)}
}

func cacheKey(namespace, serviceAccount string, pullSecrets []string) string {
	s := slices.Clone(pullSecrets)
	slices.Sort(s)
	return namespace + "\x00" + serviceAccount + "\x00" + strings.Join(s, "\x00")
}
