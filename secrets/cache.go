package secrets

import (
	"container/list"
	"sync"
)

// dekCache holds unwrapped data keys of at most max tenants, evicting the
// least recently used: a miss costs one KMS call, and a bound keeps a
// server with many tenants from holding every key in memory.
type dekCache struct {
	mu    sync.Mutex
	max   int
	order *list.List               // front = most recent; values are *cacheEntry
	byID  map[string]*list.Element // tenant -> element
}

type cacheEntry struct {
	tenant string
	key    *dataKey
}

func newDEKCache(max int) *dekCache {
	return &dekCache{max: max, order: list.New(), byID: map[string]*list.Element{}}
}

func (c *dekCache) get(tenant string) *dataKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[tenant]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).key
}

func (c *dekCache) put(tenant string, k *dataKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[tenant]; ok {
		el.Value.(*cacheEntry).key = k
		c.order.MoveToFront(el)
		return
	}
	c.byID[tenant] = c.order.PushFront(&cacheEntry{tenant: tenant, key: k})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byID, last.Value.(*cacheEntry).tenant)
	}
}

func (c *dekCache) drop(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[tenant]; ok {
		c.order.Remove(el)
		delete(c.byID, tenant)
	}
}

func (c *dekCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
