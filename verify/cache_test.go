package verify

import (
	"fmt"
	"testing"
	"time"
)

func TestCacheTTLs(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewCache(10, time.Minute, 10*time.Second)
	c.now = func() time.Time { return now }
	c.Put("complete", cached{found: 1, signatures: []Signature{{Authority: "a"}}}, true)
	c.Put("missing", cached{found: 0}, false)
	now = now.Add(11 * time.Second)
	if _, ok := c.Get("missing"); ok {
		t.Error("a result with a missing signature outlived the negative TTL")
	}
	if _, ok := c.Get("complete"); !ok {
		t.Error("a complete result expired before the TTL")
	}
	now = now.Add(time.Minute)
	if _, ok := c.Get("complete"); ok {
		t.Error("a complete result outlived the TTL")
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := NewCache(3, time.Minute, time.Minute)
	for i := range 3 {
		c.Put(fmt.Sprint(i), cached{}, true)
	}
	c.Get("0") // 1 is now the least recently used
	c.Put("3", cached{}, true)
	if _, ok := c.Get("1"); ok || c.Len() != 3 {
		t.Fatalf("entry 1 kept (len %d)", c.Len())
	}
	for _, k := range []string{"0", "2", "3"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("entry %s evicted", k)
		}
	}
}

func TestCacheKeyDependsOnAuthorities(t *testing.T) {
	a := []Authority{{ID: "p/a", Key: &Key{ID: "sha256:1"}}}
	b := []Authority{{ID: "p/a", Key: &Key{ID: "sha256:2"}}}
	if cacheKey("sha256:x", a) == cacheKey("sha256:x", b) {
		t.Fatal("same key for different authority keys")
	}
	if cacheKey("", a) != "" {
		t.Fatal("a result without a digest must not be cacheable")
	}
}

type countingObserver struct{ hits, misses, evictions map[string]int }

func (o *countingObserver) CacheLookup(layer string, hit bool) {
	if hit {
		o.hits[layer]++
	} else {
		o.misses[layer]++
	}
}

func (o *countingObserver) CacheEvicted(layer string) { o.evictions[layer]++ }

// The observer learns each lookup and eviction, by what the entry holds.
func TestCacheObserver(t *testing.T) {
	c := NewCache(2, time.Hour, time.Hour)
	o := &countingObserver{hits: map[string]int{}, misses: map[string]int{}, evictions: map[string]int{}}
	c.Observe(o)
	c.Put("sha256:a/x", cached{found: 1}, true)
	c.Get("sha256:a/x")
	c.Get("sha256:b/x")
	c.Put(configKey("sha256:a"), cached{}, true)
	c.Get(configKey("sha256:a"))
	c.Put(attestationKey("sha256:a", nil), cached{}, true) // evicts the signatures entry, the least recently used
	if o.hits[LayerSignatures] != 1 || o.misses[LayerSignatures] != 1 || o.hits[LayerConfig] != 1 || o.evictions[LayerSignatures] != 1 {
		t.Fatalf("hits %v misses %v evictions %v", o.hits, o.misses, o.evictions)
	}
}
