package rendezvous

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Defaults and bounds of Config. The TTL bounds come from the contract.
const (
	DefaultTTL      = 5 * time.Minute // long enough for a QR scan on a slow phone
	MinTTL          = 10 * time.Second
	MaxTTL          = time.Hour
	DefaultMaxBytes = 4096 // the contract's default; QR-login messages are far smaller
	// MaxContentType bounds the stored content type, which a session
	// keeps beside its payload: Session.Size is at most MaxBytes plus
	// this.
	MaxContentType = 255
	// DefaultMaxSessions bounds memory: 100,000 sessions of at most
	// 4096 + 255 bytes is about 415 MiB at worst.
	DefaultMaxSessions = 100_000
	DefaultMaxWait     = 30 * time.Second // below common proxy idle timeouts (60 s)
)

// Config tunes a Service. The zero value means the defaults.
type Config struct {
	TTL time.Duration
	// SlidingTTL extends a session's life on every write. Off by default, as
	// MSC4108 fixes the expiry at creation.
	SlidingTTL bool
	MaxBytes   int
	// MaxSessions bounds live sessions; over it, Create evicts the sessions
	// closest to expiry when EvictOldest is set, else fails with ErrFull.
	MaxSessions int
	EvictOldest bool
	// MaxWait caps how long a long-poll may wait.
	MaxWait time.Duration
}

func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	return c
}

// Validate reports a setting outside its documented bounds.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.TTL < MinTTL || c.TTL > MaxTTL:
		return fmt.Errorf("rendezvous ttl %v outside %v..%v", c.TTL, MinTTL, MaxTTL)
	case c.MaxBytes < 1:
		return fmt.Errorf("rendezvous max bytes %d must be positive", c.MaxBytes)
	case c.MaxSessions < 1:
		return fmt.Errorf("rendezvous max sessions %d must be positive", c.MaxSessions)
	case c.MaxWait < 0:
		return fmt.Errorf("rendezvous max wait %v must not be negative", c.MaxWait)
	}
	return nil
}

// Service implements the operations every HTTP flavour shares. It is safe
// for concurrent use.
type Service struct {
	store    Store
	notifier Notifier
	now      func() time.Time
	cfg      Config
	stats    counters
}

// NewService returns a Service over store and notifier. now is the clock;
// cfg must have passed Validate.
func NewService(store Store, notifier Notifier, now func() time.Time, cfg Config) *Service {
	return &Service{store: store, notifier: notifier, now: now, cfg: cfg.withDefaults()}
}

// Config returns the effective configuration, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// Now returns the service's clock reading.
func (s *Service) Now() time.Time { return s.now() }

// Create starts a session holding payload. It fails with ErrTooLarge,
// ErrContentType, ErrFull or ErrUnavailable.
func (s *Service) Create(ctx context.Context, payload []byte, contentType string) (Session, error) {
	if err := s.checkSize(payload, contentType); err != nil {
		return Session{}, err
	}
	now := s.now()
	sess := Session{
		ID: NewID(), Payload: payload, ContentType: contentType,
		Salt: newSalt(), Counter: 1,
		Created: now, Modified: now, Expires: now.Add(s.cfg.TTL),
	}
	s.reclaim(ctx)
	evicted, err := s.store.Create(ctx, sess, Limit{Max: s.cfg.MaxSessions, EvictOldest: s.cfg.EvictOldest})
	if err != nil {
		return Session{}, fmt.Errorf("create: %w", err)
	}
	s.stats.created.Add(1)
	s.stats.evicted.Add(uint64(len(evicted)))
	for _, id := range evicted {
		s.notify(ctx, id)
	}
	return sess, nil
}

// checkSize bounds what a session stores: the payload by MaxBytes, the
// content type by MaxContentType.
func (s *Service) checkSize(payload []byte, contentType string) error {
	switch {
	case len(payload) > s.cfg.MaxBytes:
		return ErrTooLarge
	case len(contentType) > MaxContentType:
		return ErrContentType
	}
	return nil
}

// Get returns the live session id, or an error wrapping ErrNotFound.
func (s *Service) Get(ctx context.Context, id ID) (Session, error) {
	sess, err := s.store.Get(ctx, id)
	if err != nil {
		return Session{}, fmt.Errorf("get: %w", err)
	}
	return sess, nil
}

// Put replaces the payload of session id if ifMatch is "" or its current
// version. A retried write (see Write) succeeds without changing anything.
// On ErrConflict the current session is returned with the error.
func (s *Service) Put(ctx context.Context, id ID, ifMatch string, payload []byte, contentType string) (Session, error) {
	if err := s.checkSize(payload, contentType); err != nil {
		return Session{}, err
	}
	w := Write{ID: id, Payload: payload, ContentType: contentType, IfMatch: ifMatch, Now: s.now()}
	if s.cfg.SlidingTTL {
		w.Expires = w.Now.Add(s.cfg.TTL)
	}
	sess, err := s.store.Update(ctx, w)
	if errors.Is(err, ErrConflict) {
		s.stats.conflicts.Add(1)
		return sess, fmt.Errorf("put: %w", err)
	}
	if err != nil {
		return Session{}, fmt.Errorf("put: %w", err)
	}
	s.notify(ctx, id)
	return sess, nil
}

// Delete ends session id, waking its waiters.
func (s *Service) Delete(ctx context.Context, id ID) error {
	if err := s.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	s.notify(ctx, id)
	return nil
}

// notify wakes waiters of id. A failure only delays them until their
// timeout, so it does not fail the write that caused it.
func (s *Service) notify(ctx context.Context, id ID) {
	_ = s.notifier.Notify(ctx, id)
}

// reclaim frees expired sessions; it runs on the creation path, where its
// cost (proportional to the sessions that expired since the last call) is
// amortised over creations.
func (s *Service) reclaim(ctx context.Context) {
	if n, err := s.store.Reclaim(ctx); err == nil {
		s.stats.expired.Add(uint64(n))
	}
}

// Ping reports whether the store is reachable.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }
