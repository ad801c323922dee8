package memstore

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/trystgw/tryst/rendezvous"
)

var _ rendezvous.Store = (*Rendezvous)(nil)

// Rendezvous is an in-memory rendezvous.Store. Sessions are kept in a map
// and in a min-heap ordered by expiry, so expired sessions are reclaimed
// and the oldest evicted in O(log n) each. It is safe for concurrent use.
type Rendezvous struct {
	now func() time.Time

	mu      sync.Mutex
	byID    map[rendezvous.ID]*entry // guarded by mu
	expiry  expiryHeap               // guarded by mu
	expired int                      // found expired since the last Reclaim; guarded by mu
}

type entry struct {
	s     rendezvous.Session
	index int // position in expiry
}

// NewRendezvous returns an empty store that reads time from now.
func NewRendezvous(now func() time.Time) *Rendezvous {
	return &Rendezvous{now: now, byID: make(map[rendezvous.ID]*entry)}
}

// Create implements rendezvous.Store.
func (m *Rendezvous) Create(_ context.Context, s rendezvous.Session, limit rendezvous.Limit) ([]rendezvous.ID, error) {
	s.Payload = clone(s.Payload)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reclaimLocked()
	if _, dup := m.byID[s.ID]; dup {
		return nil, fmt.Errorf("create %s: duplicate id", s.ID)
	}
	var evicted []rendezvous.ID
	for limit.Max > 0 && len(m.byID) >= limit.Max {
		if !limit.EvictOldest {
			return nil, rendezvous.ErrFull
		}
		e := m.expiry[0]
		m.removeLocked(e)
		evicted = append(evicted, e.s.ID)
	}
	e := &entry{s: s}
	m.byID[s.ID] = e
	heap.Push(&m.expiry, e)
	return evicted, nil
}

// Get implements rendezvous.Store. The returned payload must not be
// modified.
func (m *Rendezvous) Get(_ context.Context, id rendezvous.ID) (rendezvous.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.liveLocked(id)
	if err != nil {
		return rendezvous.Session{}, err
	}
	return e.s, nil
}

// Update implements rendezvous.Store.
func (m *Rendezvous) Update(_ context.Context, w rendezvous.Write) (rendezvous.Session, error) {
	w.Payload = clone(w.Payload)
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.liveLocked(w.ID)
	if err != nil {
		return rendezvous.Session{}, err
	}
	next, err := w.Apply(e.s)
	if err != nil {
		return e.s, err
	}
	expiryChanged := !next.Expires.Equal(e.s.Expires)
	e.s = next
	if expiryChanged {
		heap.Fix(&m.expiry, e.index)
	}
	return next, nil
}

// Delete implements rendezvous.Store.
func (m *Rendezvous) Delete(_ context.Context, id rendezvous.ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.liveLocked(id)
	if err != nil {
		return err
	}
	m.removeLocked(e)
	return nil
}

// Reclaim implements rendezvous.Store.
func (m *Rendezvous) Reclaim(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reclaimLocked()
	n := m.expired
	m.expired = 0
	return n, nil
}

// Len implements rendezvous.Store.
func (m *Rendezvous) Len(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reclaimLocked()
	return len(m.byID), nil
}

// Ping implements rendezvous.Store; memory is always reachable.
func (m *Rendezvous) Ping(context.Context) error { return nil }

// liveLocked returns the entry for id, removing it if it has expired.
func (m *Rendezvous) liveLocked(id rendezvous.ID) (*entry, error) {
	e, ok := m.byID[id]
	if !ok {
		return nil, rendezvous.ErrNotFound
	}
	if !m.now().Before(e.s.Expires) {
		m.removeLocked(e)
		m.expired++
		return nil, rendezvous.ErrNotFound
	}
	return e, nil
}

// reclaimLocked pops expired sessions off the heap top.
func (m *Rendezvous) reclaimLocked() {
	now := m.now()
	for len(m.expiry) > 0 && !now.Before(m.expiry[0].s.Expires) {
		m.removeLocked(m.expiry[0])
		m.expired++
	}
}

func (m *Rendezvous) removeLocked(e *entry) {
	heap.Remove(&m.expiry, e.index)
	delete(m.byID, e.s.ID)
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}

// expiryHeap orders entries by expiry, soonest first.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].s.Expires.Before(h[j].s.Expires) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
