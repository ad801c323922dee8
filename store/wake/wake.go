// Package wake fans wake-ups out to the waiters of a key within one
// process: the shared core of the wake-up notifiers in store/memstore
// (one instance) and store/redisstore (across instances). Keys are any
// string type (a rendezvous.ID, a client queue id), so every long-poll in
// the gateway waits the same way.
//
// It imports nothing of the gateway and no storage driver.
package wake

import (
	"context"
	"sync"
)

// Hub wakes the watchers of a key. All watchers of a key share one
// channel, closed and replaced on Wake, so waking N waiters is one close.
// The zero Hub is not usable; call NewHub. It is safe for concurrent use.
type Hub[K ~string] struct {
	mu       sync.Mutex
	watchers map[K]*watch // guarded by mu
}

type watch struct {
	ch   chan struct{}
	refs int
}

// NewHub returns a Hub with no watchers.
func NewHub[K ~string]() *Hub[K] {
	return &Hub[K]{watchers: make(map[K]*watch)}
}

// Watch returns a channel closed at the first Wake of key after Watch
// was called, and a function that releases the watch (idempotent). It
// never blocks.
func (h *Hub[K]) Watch(key K) (<-chan struct{}, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w, ok := h.watchers[key]
	if !ok {
		w = &watch{ch: make(chan struct{})}
		h.watchers[key] = w
	}
	w.refs++
	var once sync.Once
	return w.ch, func() { once.Do(func() { h.release(key, w) }) }
}

func (h *Hub[K]) release(key K, w *watch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w.refs--
	if w.refs == 0 && h.watchers[key] == w {
		delete(h.watchers, key)
	}
}

// Notify wakes key's watchers; it never fails. With Watch it makes a Hub
// a notifier for one process.
func (h *Hub[K]) Notify(_ context.Context, key K) error {
	h.Wake(key)
	return nil
}

// Wake closes the channel of key's current watchers.
func (h *Hub[K]) Wake(key K) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w, ok := h.watchers[key]; ok {
		close(w.ch)
		delete(h.watchers, key)
	}
}

// Watching returns the number of keys with watchers.
func (h *Hub[K]) Watching() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}

// Keys returns the keys with watchers now.
func (h *Hub[K]) Keys() []K {
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]K, 0, len(h.watchers))
	for k := range h.watchers {
		keys = append(keys, k)
	}
	return keys
}
