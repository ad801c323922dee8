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
)

// SchedulerConfig tunes a Scheduler. Zero fields take the defaults.
type SchedulerConfig struct {
	Tick  time.Duration    // default DefaultCheckTick
	Batch int              // default DefaultCheckBatch
	Now   func() time.Time // default time.Now
}

// Scheduler sends the periodic background "check messages" pushes. Each
// tick it claims the due tokens from the store in batches (the store finds
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
			err := s.pusher.Enqueue(ctx, NewPush(t, OwnerCheck, map[string]string{DataCheckMessages: "true"}))
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
