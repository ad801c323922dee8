// Package ratelimit holds per-client token buckets: the Limiter interface
// the HTTP layer consults, and an in-memory implementation whose table of
// clients is bounded. It knows nothing of HTTP; keys are opaque strings
// (a client IP plus the kind of request, say).
package ratelimit

import (
	"container/list"
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rule is a token bucket: Burst requests at once, refilled at Rate per
// second. A zero Rate disables limiting.
type Rule struct {
	Rate  float64
	Burst int
}

// Limiter decides whether a request may proceed. Implementations are safe
// for concurrent use.
type Limiter interface {
	// Allow takes one token from key's bucket under rule. When none is left
	// it returns false and how long until one will be.
	Allow(ctx context.Context, key string, rule Rule) (ok bool, retryAfter time.Duration, err error)
}

// DefaultMaxKeys bounds the memory limiter's table: about 200 bytes a key,
// so 100,000 keys cost about 20 MB.
const DefaultMaxKeys = 100_000

// Memory is an in-memory Limiter. It keeps at most maxKeys buckets and
// forgets the least recently used one when a new key arrives at the bound;
// a forgotten client starts again with a full bucket, which errs on the
// side of serving it.
type Memory struct {
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*list.Element // guarded by mu; values are *bucket
	lru     *list.List               // guarded by mu; front is most recent
}

type bucket struct {
	key string
	lim *rate.Limiter
}

// NewMemory returns a Memory limiter holding at most maxKeys buckets
// (DefaultMaxKeys if maxKeys <= 0).
func NewMemory(now func() time.Time, maxKeys int) *Memory {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Memory{now: now, maxKeys: maxKeys, buckets: make(map[string]*list.Element), lru: list.New()}
}

// Allow implements Limiter. It never returns an error.
func (m *Memory) Allow(_ context.Context, key string, rule Rule) (bool, time.Duration, error) {
	if rule.Rate <= 0 {
		return true, 0, nil
	}
	now := m.now()
	lim := m.bucket(key, rule)
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second, nil
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d, nil
	}
	return true, 0, nil
}

// bucket returns key's limiter, creating it and evicting the least
// recently used one at the bound.
func (m *Memory) bucket(key string, rule Rule) *rate.Limiter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.buckets[key]; ok {
		m.lru.MoveToFront(el)
		return el.Value.(*bucket).lim
	}
	if m.lru.Len() >= m.maxKeys {
		oldest := m.lru.Back()
		m.lru.Remove(oldest)
		delete(m.buckets, oldest.Value.(*bucket).key)
	}
	b := &bucket{key: key, lim: rate.NewLimiter(rate.Limit(rule.Rate), max(rule.Burst, 1))}
	m.buckets[key] = m.lru.PushFront(b)
	return b.lim
}

// Len returns the number of buckets held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}
