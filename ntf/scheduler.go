package ntf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/trystgw/tryst/push"
)

// Scheduler defaults.
const (
	// DefaultCheckTick is how often the scheduler looks for due tokens:
	// checks are at least 20 minutes apart, so a minute late is on time.
	DefaultCheckTick = time.Minute
	// DefaultCheckBatch is how many due tokens one store call claims:
	// small enough to fit the push queue, large enough to amortise the
	// round trip.
	DefaultCheckBatch = 256
	// DefaultExpireAfter is how long a token may stay unverified (or
	// invalid) since its last change before it is deleted: days, for an
	// app that was offline when its verification push came, not months
	// of rows nobody will use.
	DefaultExpireAfter = 72 * time.Hour
	// DefaultExpireBatch is how many tokens one delete removes; a tick
	// deletes batches until one comes back short.
	DefaultExpireBatch = 500
)

// SchedulerConfig tunes a Scheduler. Zero fields take the defaults.
type SchedulerConfig struct {
	Tick        time.Duration    // default DefaultCheckTick
	Batch       int              // default DefaultCheckBatch
	ExpireAfter time.Duration    // default DefaultExpireAfter
	ExpireBatch int              // default DefaultExpireBatch
	Now         func() time.Time // default time.Now
}

// Scheduler sends the periodic background "check messages" pushes and
// deletes tokens left inactive for ExpireAfter. Each tick it claims the due tokens from the store in batches (the store finds
// them through an index on NextCheckAt, so a tick costs in proportion to
// the due tokens, not to all of them) and queues one push per token.
type Scheduler struct {
	store  TokenStore
	pusher Pusher
	log    *slog.Logger
	cfg    SchedulerConfig
}

// NewScheduler returns a Scheduler over store and pusher.
func NewScheduler(store TokenStore, pusher Pusher, logger *slog.Logger, cfg SchedulerConfig) *Scheduler {
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultCheckTick
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultCheckBatch
	}
	if cfg.ExpireAfter <= 0 {
		cfg.ExpireAfter = DefaultExpireAfter
	}
	if cfg.ExpireBatch <= 0 {
		cfg.ExpireBatch = DefaultExpireBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Scheduler{store: store, pusher: pusher, log: logger, cfg: cfg}
}

// Run ticks until ctx is done, then returns nil. A failed tick is logged
// and retried at the next one.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if n, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "periodic checks failed", "err", err, "sent", n)
		}
		if n, err := s.Expire(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "deleting inactive tokens failed", "err", err, "deleted", n)
		} else if n > 0 {
			s.log.InfoContext(ctx, "inactive tokens deleted", "count", n, "inactive_for", s.cfg.ExpireAfter)
		}
	}
}

// Tick queues a check push for every token due now and returns how many
// it queued. When the push queue is full it stops and hands the claimed
// tokens it could not queue back to the next tick.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now, sent := s.cfg.Now(), 0
	for {
		due, err := s.store.ClaimDue(ctx, now, s.cfg.Batch)
		if err != nil {
			return sent, fmt.Errorf("claiming due tokens: %w", err)
		}
		for i, t := range due {
			n := NewPush(t, OwnerCheck, nil)
			n.Flags = []string{DataCheckMessages}
			err := s.pusher.Enqueue(ctx, n)
			switch {
			case errors.Is(err, push.ErrNoRoute):
				s.log.WarnContext(ctx, "periodic check for an app without credentials", "token_id", t.ID, "app", t.App)
			case errors.Is(err, push.ErrRegistrationBusy):
				// Pushes to this device are still waiting: one more
				// check would only add to them.
				s.log.DebugContext(ctx, "periodic check skipped: pushes still waiting", "token_id", t.ID)
			case err != nil:
				return sent, s.giveBack(ctx, due[i:], now, err)
			default:
				sent++
			}
		}
		if len(due) < s.cfg.Batch {
			return sent, nil
		}
	}
}

// Expire deletes the tokens that are not active and have not changed for
// ExpireAfter, in batches of ExpireBatch, and returns how many it deleted.
// The store reaches them through an index, so a tick with nothing to
// delete costs one index probe.
func (s *Scheduler) Expire(ctx context.Context) (int, error) {
	before, deleted := s.cfg.Now().Add(-s.cfg.ExpireAfter), 0
	for {
		n, err := s.store.DeleteInactive(ctx, before, s.cfg.ExpireBatch)
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("deleting inactive tokens: %w", err)
		}
		if n < s.cfg.ExpireBatch {
			return deleted, nil
		}
	}
}

// giveBack makes claimed tokens due again at now, so the next tick
// retries them, and reports why they were not queued.
func (s *Scheduler) giveBack(ctx context.Context, ts []Token, now time.Time, cause error) error {
	var errs []error
	for _, t := range ts {
		_, err := s.store.Update(ctx, t.ID, func(t *Token) error {
			if !t.NextCheckAt.IsZero() {
				t.NextCheckAt = now
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrTokenNotFound) {
			errs = append(errs, err)
		}
	}
	return fmt.Errorf("queueing check pushes: %w", errors.Join(append(errs, cause)...))
}
