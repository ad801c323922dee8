package memstore

import (
	"context"
	"sync"

	"github.com/trystgw/tryst/rendezvous"
)

var _ rendezvous.Notifier = (*Notifier)(nil)

// Notifier is an in-process rendezvous.Notifier. All watchers of a session
// share one channel, closed and replaced on Notify, so waking N waiters is
// one close. It is safe for concurrent use.
type Notifier struct {
	mu       sync.Mutex
	watchers map[rendezvous.ID]*watch // guarded by mu
}

type watch struct {
	ch   chan struct{}
	refs int
}

// NewNotifier returns a Notifier with no watchers.
func NewNotifier() *Notifier {
	return &Notifier{watchers: make(map[rendezvous.ID]*watch)}
}

// Watch implements rendezvous.Notifier.
func (n *Notifier) Watch(id rendezvous.ID) (<-chan struct{}, func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	w, ok := n.watchers[id]
	if !ok {
		w = &watch{ch: make(chan struct{})}
		n.watchers[id] = w
	}
	w.refs++
	var once sync.Once
	return w.ch, func() { once.Do(func() { n.release(id, w) }) }
}

func (n *Notifier) release(id rendezvous.ID, w *watch) {
	n.mu.Lock()
	defer n.mu.Unlock()
	w.refs--
	if w.refs == 0 && n.watchers[id] == w {
		delete(n.watchers, id)
	}
}

// Notify implements rendezvous.Notifier. It never fails.
func (n *Notifier) Notify(_ context.Context, id rendezvous.ID) error {
	n.Wake(id)
	return nil
}

// Wake closes the channel of id's current watchers. Notifiers spanning
// instances call it when a change arrives from another instance.
func (n *Notifier) Wake(id rendezvous.ID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if w, ok := n.watchers[id]; ok {
		close(w.ch)
		delete(n.watchers, id)
	}
}

// Watching returns the number of sessions with watchers.
func (n *Notifier) Watching() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.watchers)
}
