package policy

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"maps"
	"slices"
	"sync"
)

// fingerprint hashes everything one compilation of an object read: its
// identity and spec, and the Secrets and ConfigMaps it named. Two
// compilations with the same fingerprint compiled the same policy, so the
// store need not publish a new revision (which would start a revalidation
// pass and move the last-change time) when a periodic re-read of the
// Secrets finds them unchanged.
type fingerprint struct {
	mu sync.Mutex
	h  hash.Hash
}

func newFingerprint(o Object) *fingerprint {
	f := &fingerprint{h: sha256.New()}
	spec, _ := json.Marshal(o.Spec)
	fmt.Fprintf(f.h, "%s\x00%s\x00", o.ID(), spec)
	return f
}

func (f *fingerprint) add(kind, namespace, name string, data map[string][]byte, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(f.h, "%s\x00%s\x00%s\x00%v\x00", kind, namespace, name, err)
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(f.h, "%q=%x\x00", k, data[k])
	}
}

func (f *fingerprint) sum() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("%x", f.h.Sum(nil))
}

// reader returns secrets, recording what it reads into f. It is a
// ConfigMapReader exactly when secrets is one.
func (f *fingerprint) reader(secrets SecretReader) SecretReader {
	if secrets == nil {
		return nil
	}
	r := recordingSecrets{inner: secrets, f: f}
	if cm, ok := secrets.(ConfigMapReader); ok {
		return recordingClusterData{r, cm}
	}
	return r
}

type recordingSecrets struct {
	inner SecretReader
	f     *fingerprint
}

func (r recordingSecrets) SecretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	data, err := r.inner.SecretData(ctx, namespace, name)
	r.f.add("Secret", namespace, name, data, err)
	return data, err
}

type recordingClusterData struct {
	recordingSecrets
	configMaps ConfigMapReader
}

func (r recordingClusterData) ConfigMapData(ctx context.Context, namespace, name string) (map[string]string, error) {
	data, err := r.configMaps.ConfigMapData(ctx, namespace, name)
	bytes := make(map[string][]byte, len(data))
	for k, v := range data {
		bytes[k] = []byte(v)
	}
	r.f.add("ConfigMap", namespace, name, bytes, err)
	return data, err
}
