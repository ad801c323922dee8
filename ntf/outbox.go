package ntf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/trystgw/tryst/push"
)

// Outbox defaults.
const (
	// DefaultOutboxSweep is how often the outbox looks for due
	// notifications in the store: the ones a kick missed (a restart, a
	// full kick queue, a retry that came due).
	DefaultOutboxSweep = time.Second
	// DefaultOutboxLease is how long claimed notifications stay out of
	// other sweeps; a crash before their push finished delays them by
	// at most this.
	DefaultOutboxLease = 30 * time.Second
	// DefaultOutboxMinRetry and DefaultOutboxMaxRetry bound the delay
	// after a push failed (the dispatcher has retried already), doubling
	// per failure.
	DefaultOutboxMinRetry = time.Second
	DefaultOutboxMaxRetry = 5 * time.Minute
	// DefaultInactiveRetry is how long notifications of a token that is
	// not active (being re-verified) wait before they are looked at again.
	DefaultInactiveRetry = time.Minute
	// outboxClaimBatch is how many tokens one sweep claims at a time.
	outboxClaimBatch = 256
	// restartHorizon is beyond any due time the outbox sets (leases,
	// retries, the supervisor's sweep grace): the first sweep's cutoff.
	restartHorizon = 24 * time.Hour
	// outboxWorkers deliver kicked tokens concurrently, so one slow
	// store round trip does not hold up the others.
	outboxWorkers = 8
	// kickBuffer holds tokens kicked and not yet served; beyond it the
	// sweep finds them.
	kickBuffer = 4096
)

// OutboxConfig tunes an Outbox. Zero fields take the defaults.
type OutboxConfig struct {
	// MessageSize is P, the padded size of every message push; default
	// DefaultMessageSize.
	MessageSize        int
	Sweep, Lease       time.Duration
	MinRetry, MaxRetry time.Duration
	InactiveRetry      time.Duration
	Now                func() time.Time
}

func (c OutboxConfig) withDefaults() OutboxConfig {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Sweep, DefaultOutboxSweep)
	def(&c.Lease, DefaultOutboxLease)
	def(&c.MinRetry, DefaultOutboxMinRetry)
	def(&c.MaxRetry, DefaultOutboxMaxRetry)
	def(&c.InactiveRetry, DefaultInactiveRetry)
	if c.MessageSize <= 0 {
		c.MessageSize = DefaultMessageSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Outbox turns the stored notifications of a token into message pushes
// and removes them from the outbox only when the provider accepted a push
// carrying them (or the token is dead). A token has at most one message
// push in flight; notifications arriving meanwhile go in the next one.
type Outbox struct {
	store  SubscriptionStore
	tokens TokenStore
	sealer Sealer
	pusher Pusher
	log    *slog.Logger
	cfg    OutboxConfig
	kicks  chan TokenID

	mu       sync.Mutex
	inflight map[TokenID]*flight            // guarded by mu
	byPush   map[*push.Notification]*flight // guarded by mu
	failures map[TokenID]int                // guarded by mu; consecutive failed pushes
	stats    outboxCounters
}

// flight is a message push on its way.
type flight struct {
	token   TokenID
	carried []Notification
	again   bool // kicked while in flight
	// leftover: pending notifications the push could not carry.
	leftover bool
}

// NewOutbox returns an Outbox reading notifications from store and
// tokens from tokens, pushing through pusher.
func NewOutbox(store SubscriptionStore, tokens TokenStore, sealer Sealer, pusher Pusher, logger *slog.Logger, cfg OutboxConfig) (*Outbox, error) {
	cfg = cfg.withDefaults()
	if cfg.MessageSize < MinMessageSize || cfg.MessageSize > 65535 {
		return nil, fmt.Errorf("ntf: message size %d outside %d..65535", cfg.MessageSize, MinMessageSize)
	}
	return &Outbox{
		store: store, tokens: tokens, sealer: sealer, pusher: pusher, log: logger, cfg: cfg,
		kicks: make(chan TokenID, kickBuffer), inflight: map[TokenID]*flight{},
		byPush: map[*push.Notification]*flight{}, failures: map[TokenID]int{},
	}, nil
}

// Kick says the token has new notifications. It never waits: when the
// kick queue is full the sweep finds them.
func (o *Outbox) Kick(token TokenID) {
	select {
	case o.kicks <- token:
	default:
	}
}

// Run serves kicks and sweeps the store for due notifications until ctx
// ends, then returns nil. It sweeps once at start, which delivers what a
// crash or restart left in the outbox.
//
// The first sweep takes every pending notification, whatever its due
// time: what a previous run had claimed or was pushing when it crashed
// is delivered at once rather than when its lease runs out.
func (o *Outbox) Run(ctx context.Context) error {
	var workers sync.WaitGroup
	for range outboxWorkers {
		workers.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-o.kicks:
					o.deliver(ctx, id)
				}
			}
		})
	}
	defer workers.Wait()
	t := time.NewTicker(o.cfg.Sweep)
	defer t.Stop()
	o.sweep(ctx, o.cfg.Now().Add(restartHorizon))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			o.sweep(ctx, o.cfg.Now())
		}
	}
}

// sweep claims the tokens with notifications due by due and delivers
// those that have no push in flight (that push's result reschedules or
// clears them).
func (o *Outbox) sweep(ctx context.Context, due time.Time) {
	for ctx.Err() == nil {
		ids, err := o.store.ClaimOutbox(ctx, due, o.cfg.Now().Add(o.cfg.Lease), outboxClaimBatch)
		if err != nil {
			if ctx.Err() == nil {
				o.log.Error("claiming the outbox", "err", err)
			}
			return
		}
		for _, id := range ids {
			if !o.flying(id) {
				o.deliver(ctx, id)
			}
		}
		if len(ids) < outboxClaimBatch {
			return
		}
	}
}

// deliver sends the token's pending notifications in one message push,
// unless one is in flight already (then it follows that one).
func (o *Outbox) deliver(ctx context.Context, id TokenID) {
	o.mu.Lock()
	if f := o.inflight[id]; f != nil {
		f.again = true
		o.mu.Unlock()
		return
	}
	f := &flight{token: id}
	o.inflight[id] = f
	o.mu.Unlock()
	n, err := o.prepare(ctx, f)
	if n == nil || err != nil {
		o.land(f, nil)
		if err != nil && ctx.Err() == nil {
			o.log.Error("preparing a message push", "token_id", id, "err", err)
			o.defer_(ctx, id, o.cfg.MinRetry)
		}
		return
	}
	o.mu.Lock()
	o.byPush[n] = f
	o.mu.Unlock()
	if err := o.pusher.Enqueue(ctx, n); err != nil {
		o.land(f, n)
		o.log.Warn("message push not queued", "token_id", id, "err", err)
		o.defer_(ctx, id, o.retryDelay(id))
		return
	}
	o.stats.pushes.Add(1)
}

// flying reports whether the token has a push in flight.
func (o *Outbox) flying(id TokenID) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.inflight[id] != nil
}

// land ends f's flight; it returns whether f was kicked meanwhile.
func (o *Outbox) land(f *flight, n *push.Notification) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.inflight, f.token)
	if n != nil {
		delete(o.byPush, n)
	}
	return f.again
}

// prepare builds f's push: nil when there is nothing to send.
func (o *Outbox) prepare(ctx context.Context, f *flight) (*push.Notification, error) {
	t, err := o.tokens.Get(ctx, f.token)
	if errors.Is(err, ErrTokenNotFound) {
		return nil, nil // deleted with its notifications
	}
	if err != nil {
		return nil, err
	}
	switch t.Status {
	case StatusActive:
	case StatusInvalid:
		return nil, o.store.DropNotifications(ctx, t.ID)
	default: // being verified again: wait
		return nil, o.store.DeferNotifications(ctx, t.ID, o.cfg.Now().Add(o.cfg.InactiveRetry))
	}
	recent, err := o.store.RecentNotifications(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	entries := chooseEntries(recent)
	if entries == nil {
		return nil, nil
	}
	text, carried, err := MessageText(entries, o.cfg.MessageSize)
	if err != nil {
		return nil, err
	}
	f.carried = carried
	f.leftover = countPending(carried) < countPending(recent)
	return o.seal(t, text)
}

// chooseEntries picks what a push repeats: the pending notifications,
// newest first, then the most recent delivered ones, up to
// MaxRecentNotifications; nil when none is pending.
func chooseEntries(recent []Notification) []Notification {
	slices.SortFunc(recent, func(a, b Notification) int {
		if a.Pending != b.Pending {
			if a.Pending {
				return -1
			}
			return 1
		}
		return b.ReceivedAt.Compare(a.ReceivedAt)
	})
	if len(recent) == 0 || !recent[0].Pending {
		return nil
	}
	return recent[:min(len(recent), MaxRecentNotifications)]
}

func countPending(ns []Notification) int {
	n := 0
	for _, x := range ns {
		if x.Pending {
			n++
		}
	}
	return n
}

// seal encrypts text for t and builds its message push.
func (o *Outbox) seal(t Token, text []byte) (*push.Notification, error) {
	priv, err := o.sealer.Open(t.ServerKeySealed, []byte(t.ID))
	if err != nil || len(priv) != 32 {
		return nil, fmt.Errorf("opening the server key of token %s: %w", t.ID, err)
	}
	data, err := messageData(text, o.cfg.MessageSize, (*[32]byte)(priv), t.DHKey)
	if err != nil {
		return nil, err
	}
	return newMessagePush(t, data), nil
}

// RouteResults registers the outbox as the owner of message pushes
// (OwnerMessage) with rt. A dead device token is reported to the token
// by rt's dead-token handler, as for every push.
func (o *Outbox) RouteResults(rt *push.Router) error {
	return rt.Handle(OwnerMessage, func(ctx context.Context, r push.Result) { o.HandlePushResult(ctx, r) })
}

// HandlePushResult records the outcome of a message push: accepted, its
// notifications leave the outbox; a dead token drops them; otherwise
// they are retried later. It reports whether the result was one of the
// outbox's pushes; others are left to their owners.
func (o *Outbox) HandlePushResult(ctx context.Context, r push.Result) bool {
	o.mu.Lock()
	f := o.byPush[r.Notification]
	o.mu.Unlock()
	if f == nil {
		return false
	}
	var err error
	switch {
	case r.OK():
		err = o.store.ClearNotifications(ctx, f.token, f.carried)
		o.observe(f.carried)
		o.setFailures(f.token, 0)
	case r.TokenDead():
		err = o.store.DropNotifications(ctx, f.token)
	default:
		o.stats.pushFailures.Add(1)
		err = o.store.DeferNotifications(ctx, f.token, o.cfg.Now().Add(o.retryDelay(f.token)))
	}
	if err != nil {
		o.log.Error("recording a message push result", "token_id", f.token, "err", err)
	}
	if o.land(f, r.Notification) || (r.OK() && f.leftover) {
		o.Kick(f.token) // notifications that came meanwhile, or did not fit
	}
	return true
}

// retryDelay counts a failure of the token's push and returns the delay
// before the next attempt: MinRetry doubling up to MaxRetry, jittered.
func (o *Outbox) retryDelay(id TokenID) time.Duration {
	o.mu.Lock()
	o.failures[id]++
	n := o.failures[id]
	o.mu.Unlock()
	d := o.cfg.MinRetry
	for i := 1; i < n && d < o.cfg.MaxRetry; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxRetry)
	return d/2 + rand.N(d/2+1)
}

func (o *Outbox) setFailures(id TokenID, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n == 0 {
		delete(o.failures, id)
	} else {
		o.failures[id] = n
	}
}

// defer_ makes the token's pending notifications due after d.
func (o *Outbox) defer_(ctx context.Context, id TokenID, d time.Duration) {
	if err := o.store.DeferNotifications(ctx, id, o.cfg.Now().Add(d)); err != nil && ctx.Err() == nil {
		o.log.Error("deferring notifications", "token_id", id, "err", err)
	}
}

// observe records the NMSG-to-push latency of the pending notifications
// a push delivered.
func (o *Outbox) observe(carried []Notification) {
	now := o.cfg.Now()
	for _, n := range carried {
		if n.Pending {
			o.stats.latency.observe(now.Sub(n.ReceivedAt))
		}
	}
}
