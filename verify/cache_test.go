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
