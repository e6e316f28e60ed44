package webhook

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"

	"gatehouse.dev/gatehouse/verify/pullsecrets"
)

// lazyKeychain reads a pod's pull secrets at most once per request, and only
// when an image actually needs a registry.
type lazyKeychain struct {
	src       pullsecrets.Source
	namespace string
	sa        string
	secrets   []string

	once sync.Once
	kc   authn.Keychain
	err  error
}

func (l *lazyKeychain) get(ctx context.Context) (authn.Keychain, error) {
	l.once.Do(func() { l.kc, l.err = l.src.Keychain(ctx, l.namespace, l.sa, l.secrets) })
	return l.kc, l.err
}
