package qs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
)

// Notifier wakes long-poll waiters when a queue receives a message.
// Implementations spanning instances deliver a Notify on one instance to
// watchers on all of them; memstore.Notifier[ID] and
// redisstore.Notifier[ID] are ones.
type Notifier interface {
	// Watch returns a channel closed at the first Notify of id after the
	// call, and a release function the caller must call when done.
	Watch(id ID) (<-chan struct{}, func())
	// Notify wakes the watchers of id.
	Notify(ctx context.Context, id ID) error
}

// Tokens checks push-token credentials and finds tokens by id;
// *ntf.Service with its store does both (see NewTokens).
type Tokens interface {
	Authenticate(ctx context.Context, c ntf.Credentials) (ntf.Token, error)
	Get(ctx context.Context, id ntf.TokenID) (ntf.Token, error)
}

// Pusher queues a push; *push.Dispatcher is one.
type Pusher interface {
	Enqueue(ctx context.Context, n *push.Notification) error
}

// Defaults of Config.
const (
	// DefaultMaxWait caps a long-poll: below the idle timeouts of common
	// proxies (60 s) with room to spare.
	DefaultMaxWait = 30 * time.Second
	// DefaultFetchLimit bounds one fetch's answer; a client with more
	// queued fetches again after acknowledging.
	DefaultFetchLimit = 100
	// DefaultPollInterval is how often a long-poll re-reads the store when
	// no wake-up arrives, so a message stored by another instance is seen
	// within a second even without a cross-instance notifier.
	DefaultPollInterval = time.Second
	// DefaultSweepInterval is how often acknowledged messages are freed.
	DefaultSweepInterval = time.Minute
	// setRetention keeps an unused recipient set's bookkeeping this long:
	// a group that is quiet for a day rebuilds it on its next message.
	setRetention = 24 * time.Hour
	sweepBatch   = 1000
	// pushTTL: a wake-up older than this is useless, the client will
	// have been woken by a later one or opened the app.
	pushTTL = time.Hour
)

// Config tunes a Service; the zero value takes the defaults.
type Config struct {
	MaxWait       time.Duration
	FetchLimit    int
	PollInterval  time.Duration
	SweepInterval time.Duration
	Now           func() time.Time
}

func (c Config) withDefaults() Config {
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.FetchLimit <= 0 {
		c.FetchLimit = DefaultFetchLimit
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// RunSweeper frees acknowledged messages every SweepInterval until ctx
// ends; it returns nil then. A failed sweep is logged and retried at the
// next tick.
func (s *Service) RunSweeper(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "queue sweep failed", "err", err)
		}
	}
}

// Sweep frees what every recipient acknowledged, in batches until done.
func (s *Service) Sweep(ctx context.Context) error {
	for {
		n, err := s.store.Sweep(ctx, s.cfg.Now().Add(-setRetention), sweepBatch)
		if err != nil || n < sweepBatch {
			return err
		}
	}
}

// Service creates queues, delivers into them, serves fetches and acks and
// sends wake-up pushes. It is safe for concurrent use.
type Service struct {
	store    Store
	notifier Notifier
	tokens   Tokens // nil: linking refused, no pushes
	pusher   Pusher
	log      *slog.Logger
	cfg      Config
	dummy    Hash
}

// NewService returns a Service. tokens and pusher may be nil when no push
// service runs; linking a token then fails with ErrTokenNotActive.
func NewService(store Store, notifier Notifier, tokens Tokens, pusher Pusher, logger *slog.Logger, cfg Config) *Service {
	return &Service{store: store, notifier: notifier, tokens: tokens, pusher: pusher, log: logger,
		cfg: cfg.withDefaults(), dummy: NewSecret().Hash()}
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Credentials are a queue id and bearer secret as received.
type Credentials struct {
	ID     string
	Secret string
}

// Create makes a queue, linked to the push token link names when link is
// not nil (its secret proves the caller holds the token; the token must
// be active). It returns the queue and its secret, which is not kept.
// Errors: ntf.ErrUnknownToken, ErrTokenNotActive, or a store error.
func (s *Service) Create(ctx context.Context, link *ntf.Credentials) (Queue, Secret, error) {
	q := Queue{ID: NewID(), CreatedAt: s.cfg.Now()}
	if link != nil {
		if s.tokens == nil {
			return Queue{}, "", fmt.Errorf("create queue: %w", ErrTokenNotActive)
		}
		t, err := s.tokens.Authenticate(ctx, *link)
		if err != nil {
			return Queue{}, "", fmt.Errorf("create queue: %w", err)
		}
		if t.Status != ntf.StatusActive {
			return Queue{}, "", fmt.Errorf("create queue: %w", ErrTokenNotActive)
		}
		q.Token = t.ID
	}
	secret := NewSecret()
	q.SecretHash = secret.Hash()
	if err := s.store.Create(ctx, q); err != nil {
		return Queue{}, "", fmt.Errorf("create queue: %w", err)
	}
	return q, secret, nil
}

// Authenticate returns the queue c names if its secret is right, else an
// error wrapping ErrUnknownQueue; unknown ids and wrong secrets do the
// same work and fail alike.
func (s *Service) Authenticate(ctx context.Context, c Credentials) (Queue, error) {
	presented := Secret(c.Secret).Hash()
	id, perr := ParseID(c.ID)
	q, err := s.store.Get(ctx, id)
	if perr != nil {
		err = ErrNotFound
	}
	want := s.dummy
	if err == nil {
		want = q.SecretHash
	}
	ok := presented.Equal(want)
	switch {
	case errors.Is(err, ErrNotFound):
		return Queue{}, ErrUnknownQueue
	case err != nil:
		return Queue{}, fmt.Errorf("authenticate queue: %w", err)
	case !ok:
		return Queue{}, ErrUnknownQueue
	}
	return q, nil
}

// Fetch returns messages after seq, waiting up to wait (capped at
// MaxWait) for one to arrive when there is none. It returns an empty list
// when the wait ends, and ctx's error when ctx ends first.
func (s *Service) Fetch(ctx context.Context, c Credentials, after uint64, wait time.Duration) ([]Message, error) {
	q, err := s.Authenticate(ctx, c)
	if err != nil {
		return nil, err
	}
	deadline := time.NewTimer(min(wait, s.cfg.MaxWait))
	defer deadline.Stop()
	for {
		woken, release := s.notifier.Watch(q.ID)
		msgs, err := s.store.Fetch(ctx, q.ID, after, s.cfg.FetchLimit)
		if errors.Is(err, ErrNotFound) {
			err = ErrUnknownQueue // deleted while the client waited
		}
		if err != nil || len(msgs) > 0 || wait <= 0 {
			release()
			return msgs, err
		}
		poll := time.NewTimer(s.cfg.PollInterval)
		select {
		case <-woken:
		case <-poll.C:
		case <-deadline.C:
			release()
			poll.Stop()
			return []Message{}, nil
		case <-ctx.Done():
			release()
			poll.Stop()
			return nil, ctx.Err()
		}
		release()
		poll.Stop()
	}
}

// Ack deletes the queue's messages up to through.
func (s *Service) Ack(ctx context.Context, c Credentials, through uint64) error {
	q, err := s.Authenticate(ctx, c)
	if err != nil {
		return err
	}
	return s.store.Ack(ctx, q.ID, through)
}

// Delete deletes the queue c names and everything queued in it, and
// wakes its long-polls, which then answer ErrUnknownQueue as every later
// request with these credentials does. Groups whose member received on it
// find out at their next fan-out (package ds).
func (s *Service) Delete(ctx context.Context, c Credentials) error {
	q, err := s.Authenticate(ctx, c)
	if err != nil {
		return err
	}
	if err := s.store.Delete(ctx, q.ID); errors.Is(err, ErrNotFound) {
		return ErrUnknownQueue // deleted by a racing request
	} else if err != nil {
		return fmt.Errorf("delete queue: %w", err)
	}
	if err := s.notifier.Notify(ctx, q.ID); err != nil {
		s.log.WarnContext(ctx, "queue wake-up failed", "queue", string(q.ID), "err", err)
	}
	return nil
}

// Missing returns those of ids that name no queue.
func (s *Service) Missing(ctx context.Context, ids []ID) ([]ID, error) {
	return s.store.Missing(ctx, ids)
}

// Deliver appends data to each queue of ids that exists but except and
// wakes them; it returns the queues it delivered to.
func (s *Service) Deliver(ctx context.Context, ids []ID, except ID, data []byte) ([]ID, error) {
	got, err := s.store.Enqueue(ctx, ids, except, data, s.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("deliver: %w", err)
	}
	s.Delivered(ctx, got)
	return got, nil
}

// Delivered wakes the long-polls of queues that received a message
// (stored by Deliver, or by another store in the same transaction as
// other state) and sends the wake-up push of linked queues that have none
// outstanding. Failures are logged: the messages are stored, and a client
// polls or is woken by the next message.
func (s *Service) Delivered(ctx context.Context, ids []ID) {
	for _, id := range ids {
		if err := s.notifier.Notify(ctx, id); err != nil {
			s.log.WarnContext(ctx, "queue wake-up failed", "queue", string(id), "err", err)
		}
	}
	if s.tokens == nil || s.pusher == nil || len(ids) == 0 {
		return
	}
	claimed, err := s.store.ClaimPushes(ctx, ids)
	if err != nil {
		s.log.WarnContext(ctx, "queue push claim failed", "err", err)
		return
	}
	for _, q := range claimed {
		s.wake(ctx, q)
	}
}

// wake sends the background push of a linked queue.
func (s *Service) wake(ctx context.Context, q Queue) {
	t, err := s.tokens.Get(ctx, q.Token)
	if err != nil || t.Status != ntf.StatusActive {
		return // the token was deleted or invalidated since linking
	}
	n := &push.Notification{
		Owner: push.Owner{Kind: OwnerWakeUp, ID: string(q.ID)}, Registration: string(t.ID), Token: t.DeviceToken, App: string(t.App), Environment: t.Environment,
		Kind: push.Background, Priority: push.PriorityNormal, CollapseID: "q-" + string(q.ID)[:8],
		Expiration: s.cfg.Now().Add(pushTTL), Data: map[string]string{"queue": string(q.ID)},
	}
	if err := s.pusher.Enqueue(ctx, n); err != nil {
		s.log.WarnContext(ctx, "queue push failed", "queue", string(q.ID), "err", err)
	}
}

// OwnerWakeUp is the push owner kind of wake-up pushes; the owner id is
// the queue id.
const OwnerWakeUp push.OwnerKind = "queue_wakeup"

// RouteResults registers the service's push results with rt: a wake-up
// push that failed releases the queue's claim, so the next message
// pushes again instead of waiting for a fetch that the lost push would
// have caused. (A dead device token is handled by the token service,
// which receives every dead-token result.)
func (s *Service) RouteResults(rt *push.Router) error {
	return rt.Handle(OwnerWakeUp, s.handleResult)
}

func (s *Service) handleResult(ctx context.Context, r push.Result) {
	if r.Notification == nil || r.OK() {
		return
	}
	id, err := ParseID(r.Notification.Owner.ID)
	if err != nil {
		return
	}
	if err := s.store.ReleasePush(ctx, id); err != nil {
		s.log.WarnContext(ctx, "queue push release failed", "queue", string(id), "err", err)
	}
}

// tokenPair joins a credential checker and a token store into Tokens.
type tokenPair struct {
	auth interface {
		Authenticate(ctx context.Context, c ntf.Credentials) (ntf.Token, error)
	}
	store interface {
		Get(ctx context.Context, id ntf.TokenID) (ntf.Token, error)
	}
}

func (p tokenPair) Authenticate(ctx context.Context, c ntf.Credentials) (ntf.Token, error) {
	return p.auth.Authenticate(ctx, c)
}

func (p tokenPair) Get(ctx context.Context, id ntf.TokenID) (ntf.Token, error) {
	return p.store.Get(ctx, id)
}

// NewTokens returns Tokens that authenticates with svc (an *ntf.Service)
// and looks tokens up in store (its ntf.Store).
func NewTokens(svc interface {
	Authenticate(ctx context.Context, c ntf.Credentials) (ntf.Token, error)
}, store interface {
	Get(ctx context.Context, id ntf.TokenID) (ntf.Token, error)
}) Tokens {
	return tokenPair{auth: svc, store: store}
}
