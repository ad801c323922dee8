package push

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// OwnerKind names a sender of notifications whose results it wants back:
// "token" for the token service's verification and check pushes, and so
// on. Each kind has one ResultHandler, registered with Router.Handle.
type OwnerKind string

// Owner says who sent a notification and so who gets its Result. It is
// carried by the notification itself, never parsed out of an id.
type Owner struct {
	// Kind selects the ResultHandler the Router hands the result to.
	Kind OwnerKind
	// ID is the owner's own reference for the notification (a token id,
	// an outbox row id, a queue id), opaque to push.
	ID string
}

// String returns "kind/id", for logs.
func (o Owner) String() string { return string(o.Kind) + "/" + o.ID }

// IsZero reports whether o names no owner.
func (o Owner) IsZero() bool { return o == Owner{} }

// ResultHandler receives the results of the notifications its owner kind
// sent. It runs on a dispatcher worker goroutine: a slow handler slows
// only that route. ctx is not cancelled by shutdown, because the
// dispatcher's Close waits for results to be recorded.
type ResultHandler func(ctx context.Context, r Result)

// Router hands each Result to the handler registered for its
// notification's owner kind, and every result declaring a device token
// dead to the dead-token handler as well, whatever kind sent it. Its
// Deliver method is meant for DispatcherConfig.OnResult.
//
// Register every handler before the dispatcher sends anything: a result
// that arrives before its kind's handler is lost (and counted). A Router
// is safe for concurrent use.
type Router struct {
	log      *slog.Logger
	unrouted atomic.Uint64

	mu       sync.RWMutex
	handlers map[OwnerKind]ResultHandler // guarded by mu
	dead     ResultHandler               // guarded by mu
}

// NewRouter returns a Router with no handlers. logger may be nil.
func NewRouter(logger *slog.Logger) *Router {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Router{log: logger, handlers: map[OwnerKind]ResultHandler{}}
}

// Handle registers h for the results of notifications owned by kind. It
// returns an error for an empty kind, a nil h, or a kind already taken.
func (rt *Router) Handle(kind OwnerKind, h ResultHandler) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch {
	case kind == "":
		return fmt.Errorf("push: router: empty owner kind")
	case h == nil:
		return fmt.Errorf("push: router: nil handler for %q", kind)
	case rt.handlers[kind] != nil:
		return fmt.Errorf("push: router: owner kind %q registered twice", kind)
	}
	rt.handlers[kind] = h
	return nil
}

// HandleDeadTokens registers h for every result whose TokenDead is true
// and whose notification names its Registration, before the owner's own
// handler sees it. It replaces an earlier dead-token handler.
func (rt *Router) HandleDeadTokens(h ResultHandler) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.dead = h
}

// Handles reports whether kind has a handler.
func (rt *Router) Handles(kind OwnerKind) bool {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	return rt.handlers[kind] != nil
}

// Deliver routes r: to the dead-token handler first when the token is
// dead, then to its owner kind's handler. A result with no owner or an
// unregistered kind is logged as an error and counted in Unrouted.
func (rt *Router) Deliver(r Result) {
	ctx := context.Background() // results are recorded even during shutdown
	n := r.Notification
	if n == nil {
		return
	}
	rt.mu.RLock()
	dead, h := rt.dead, rt.handlers[n.Owner.Kind]
	rt.mu.RUnlock()
	if r.TokenDead() && n.Registration != "" && dead != nil {
		dead(ctx, r)
	}
	if h == nil {
		rt.unrouted.Add(1)
		rt.log.Error("push: result for an unrouted owner", "owner", n.Owner.String(), "id", n.ID,
			"class", r.Class.String(), "reason", string(r.Reason))
		return
	}
	h(ctx, r)
}

// Unrouted returns how many results found no handler.
func (rt *Router) Unrouted() uint64 { return rt.unrouted.Load() }
