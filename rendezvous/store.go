package rendezvous

import (
	"context"
	"errors"
)

// Errors returned by Service and Store methods. Callers test for them with
// errors.Is.
var (
	// ErrNotFound: no live session has the ID (never created, deleted,
	// expired or evicted: the contract does not tell them apart).
	ErrNotFound = errors.New("rendezvous: not found")
	// ErrConflict: a conditional write named a version that is not current.
	ErrConflict = errors.New("rendezvous: version conflict")
	// ErrFull: the limit on live sessions is reached and the policy is to
	// refuse new ones.
	ErrFull = errors.New("rendezvous: too many live sessions")
	// ErrTooLarge: the payload exceeds the configured maximum.
	ErrTooLarge = errors.New("rendezvous: payload too large")
	// ErrContentType: the content type is longer than MaxContentType.
	ErrContentType = errors.New("rendezvous: content type too long")
	// ErrUnavailable: the store cannot be reached. Stores wrap their
	// transport errors with it.
	ErrUnavailable = errors.New("rendezvous: store unavailable")
)

// Limit bounds the number of live sessions a Store holds.
type Limit struct {
	// Max is the most live sessions; 0 means no limit.
	Max int
	// EvictOldest makes Create remove the sessions closest to expiry
	// instead of failing with ErrFull.
	EvictOldest bool
}

// Store keeps sessions. Sessions whose Expires is not after the store's
// clock are treated as absent. Every implementation must pass
// rendezvoustest.TestStore, and must be safe for concurrent use.
type Store interface {
	// Create adds s, whose ID must be new. When the store holds limit.Max
	// live sessions it either evicts the ones expiring first and returns
	// their IDs, or fails with ErrFull, as limit says.
	Create(ctx context.Context, s Session, limit Limit) (evicted []ID, err error)
	// Get returns the live session id, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id ID) (Session, error)
	// Update applies w atomically with the rules of Write.Apply: it returns
	// the new session, the unchanged session for a retried write, or the
	// current session with an error wrapping ErrConflict. It returns an error
	// wrapping ErrNotFound when there is no live session.
	Update(ctx context.Context, w Write) (Session, error)
	// Delete removes session id, or returns an error wrapping ErrNotFound.
	Delete(ctx context.Context, id ID) error
	// Reclaim frees expired sessions and returns how many it found since
	// the last call. Its cost grows with the number of expired sessions,
	// never with the number of live ones.
	Reclaim(ctx context.Context) (int, error)
	// Len returns the number of live sessions.
	Len(ctx context.Context) (int, error)
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
}

// Notifier wakes long-poll waiters when a session changes. Implementations
// that span instances deliver a Notify on one instance to watchers on all
// of them. Every implementation must pass rendezvoustest.TestNotifier.
type Notifier interface {
	// Watch returns a channel that is closed at the first Notify of id after
	// Watch was called, and a function that releases the watch. It never
	// blocks.
	Watch(id ID) (changed <-chan struct{}, stop func())
	// Notify signals that session id changed (was written, deleted or
	// evicted).
	Notify(ctx context.Context, id ID) error
}
