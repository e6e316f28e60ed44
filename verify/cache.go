package verify

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Cache keeps verification results keyed by digest and the exact set of
// authorities checked. A digest names immutable content, so an entry cannot
// go stale by the image changing; the TTL bounds how long a revoked key or a
// deleted signature keeps counting. Results where some authority's signature
// is missing are kept only for the shorter negative TTL, so an image signed
// right after a denial is admitted soon, while a retry storm of pods with an
// unsigned image still costs the registry one request per negative TTL.
// Tags are never keys. Only conclusive results are stored.
type Cache struct {
	mu      sync.Mutex
	ttl     time.Duration
	negTTL  time.Duration
	max     int
	now     func() time.Time
	order   *list.List // front: most recently used
	entries map[string]*list.Element
	obs     CacheObserver
}

// CacheObserver learns of cache lookups and evictions, by layer: what an
// entry holds ("signatures", "attestations" or "config").
type CacheObserver interface {
	CacheLookup(layer string, hit bool)
	CacheEvicted(layer string)
}

// Cache layers.
const (
	LayerSignatures   = "signatures"
	LayerAttestations = "attestations"
	LayerConfig       = "config"
)

// CacheLayers lists every layer, for metrics and documentation.
var CacheLayers = []string{LayerSignatures, LayerAttestations, LayerConfig}

// Observe makes o learn of lookups and evictions from now on.
func (c *Cache) Observe(o CacheObserver) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.obs = o
}

func layerOf(key string) string {
	switch {
	case strings.HasPrefix(key, "attestations/"):
		return LayerAttestations
	case strings.HasPrefix(key, "config/"):
		return LayerConfig
	}
	return LayerSignatures
}

type cached struct {
	found      int
	signatures []Signature
	rejected   []Rejection
	// attestations, attestationsFound: an attestation entry (attestationKey).
	attestations      []Attestation
	attestationsFound map[string]int
	// config: an image configuration entry (configKey).
	config *ImageConfig
}

func (c cached) clone() cached {
	return cached{found: c.found, signatures: slices.Clone(c.signatures), rejected: slices.Clone(c.rejected),
		attestations: slices.Clone(c.attestations), attestationsFound: maps.Clone(c.attestationsFound), config: c.config}
}

type cacheEntry struct {
	key     string
	value   cached
	expires time.Time
}

// NewCache returns a cache of at most max entries, each kept for ttl, or
// for negativeTTL when not every authority's signature verified.
func NewCache(max int, ttl, negativeTTL time.Duration) *Cache {
	return &Cache{ttl: ttl, negTTL: negativeTTL, max: max, now: time.Now, order: list.New(), entries: map[string]*list.Element{}}
}

// Get returns the entry for key if present and fresh.
func (c *Cache) Get(key string) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if ok && c.now().After(el.Value.(*cacheEntry).expires) {
		c.remove(el)
		ok = false
	}
	if c.obs != nil {
		c.obs.CacheLookup(layerOf(key), ok)
	}
	if !ok {
		return cached{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).value.clone(), true
}

// Put stores value under key, evicting the least recently used entry when
// full. complete says whether every authority's signature verified.
func (c *Cache) Put(key string, value cached, complete bool) {
	ttl := c.ttl
	if !complete {
		ttl = c.negTTL
	}
	if key == "" || c.max <= 0 || ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	e := &cacheEntry{key: key, value: value.clone(), expires: c.now().Add(ttl)}
	c.entries[key] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		evicted := c.order.Back()
		c.remove(evicted)
		if c.obs != nil {
			c.obs.CacheEvicted(layerOf(evicted.Value.(*cacheEntry).key))
		}
	}
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *Cache) remove(el *list.Element) {
	c.order.Remove(el)
	delete(c.entries, el.Value.(*cacheEntry).key)
}

// attestationKey names the attestations of digest verified for checks.
func attestationKey(digest string, checks []AttestationCheck) string {
	ids := make([]string, 0, len(checks))
	for _, c := range checks {
		id := c.ID + "|" + c.PredicateType
		for _, a := range c.Authorities {
			id += "|" + a.ID + "|" + a.SignerID()
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return "attestations/" + digest + "/" + hex.EncodeToString(h.Sum(nil))
}

// configKey names the image configuration of digest.
func configKey(digest string) string { return "config/" + digest }

// cacheKey is empty (not cacheable) until the digest is known.
func cacheKey(digest string, authorities []Authority) string {
	if digest == "" {
		return ""
	}
	ids := make([]string, 0, len(authorities))
	for _, a := range authorities {
		ids = append(ids, a.ID+"|"+a.SignerID())
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	return digest + "/" + hex.EncodeToString(h.Sum(nil))
}
