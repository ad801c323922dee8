package ratelimit

import (
	"net/netip"
	"sync"
)

// Concurrency caps how many of something (open connections, waiting
// long-polls) are held at once, per key and in total. Its table holds only
// keys with something held, so it never has more entries than the total
// cap (or than things held, without one). It is safe for concurrent use.
type Concurrency struct {
	perKey, total int // 0: no cap

	mu    sync.Mutex
	held  int            // guarded by mu
	byKey map[string]int // guarded by mu; only keys holding at least one
}

// NewConcurrency returns a Concurrency allowing perKey per key and total
// in all; zero or less means no cap.
func NewConcurrency(perKey, total int) *Concurrency {
	return &Concurrency{perKey: max(perKey, 0), total: max(total, 0), byKey: map[string]int{}}
}

// Acquire takes one slot for key. It reports false, taking nothing, when
// key or the total is at its cap. The empty key is capped only by the
// total (a trusted proxy speaking for many clients, say). Each successful
// Acquire must be paired with one Release of the same key.
func (c *Concurrency) Acquire(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total > 0 && c.held >= c.total {
		return false
	}
	if key != "" {
		if c.perKey > 0 && c.byKey[key] >= c.perKey {
			return false
		}
		c.byKey[key]++
	}
	c.held++
	return true
}

// Release gives back a slot taken by Acquire(key).
func (c *Concurrency) Release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held--
	if key == "" {
		return
	}
	if n := c.byKey[key] - 1; n > 0 {
		c.byKey[key] = n
	} else {
		delete(c.byKey, key)
	}
}

// Held returns how many slots are taken in all, and the number of keys
// holding any.
func (c *Concurrency) Held() (slots, keys int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held, len(c.byKey)
}

// ClientKey is the key that stands for one client address: an IPv4
// address as is, an IPv6 address by its /64 prefix, since one subscriber
// is routinely handed a whole /64 and could otherwise appear as 2⁶⁴
// clients.
func ClientKey(addr netip.Addr) string {
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return addr.String()
	}
	return p.String()
}
