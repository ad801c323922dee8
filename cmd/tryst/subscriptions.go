package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/store/sqlstore"
)

// subscriptionConfig tunes the SMP supervisor and the outbox.
type subscriptionConfig struct {
	messageSize            int
	minBackoff, maxBackoff time.Duration
	outboxSweep            time.Duration
	outboxLease            time.Duration
	outboxMaxRetry         time.Duration
	ownership              ownershipConfig
}

// addSubscriptionFlags registers the flags of subscriptions on fs.
func addSubscriptionFlags(fs *flag.FlagSet, c *subscriptionConfig) {
	fs.IntVar(&c.messageSize, "message-size", ntf.DefaultMessageSize, "padded size P of every message push (the sealed box is P+16 bytes; keep the APNs body under 4096)")
	fs.DurationVar(&c.minBackoff, "smp-min-backoff", ntf.DefaultMinBackoff, "first delay before reconnecting to an SMP server (doubles, with jitter)")
	fs.DurationVar(&c.maxBackoff, "smp-max-backoff", ntf.DefaultMaxBackoff, "longest delay between reconnection attempts")
	fs.DurationVar(&c.outboxSweep, "outbox-sweep", ntf.DefaultOutboxSweep, "how often the outbox looks for notifications due (after a restart or a failed push)")
	fs.DurationVar(&c.outboxLease, "outbox-lease", ntf.DefaultOutboxLease, "how long notifications claimed by a sweep stay out of other sweeps (after a crash, they wait this long)")
	fs.DurationVar(&c.outboxMaxRetry, "outbox-max-retry", ntf.DefaultOutboxMaxRetry, "longest delay before retrying a message push the provider did not accept")
	addOwnershipFlags(fs, &c.ownership)
}

// check refuses a message size the outbox cannot use.
func (c subscriptionConfig) check() error {
	if c.messageSize < ntf.MinMessageSize || c.messageSize > 65535 {
		return fmt.Errorf("--message-size %d: want %d to 65535", c.messageSize, ntf.MinMessageSize)
	}
	return c.ownership.check()
}

// subscriptionService is the outbox and the SMP supervisor with the
// subscription API in front of them.
type subscriptionService struct {
	subs       *ntf.Subscriptions
	supervisor *ntf.Supervisor
	outbox     *ntf.Outbox
	store      ntf.SubscriptionStore
	// ownership shares the SMP servers with other instances; nil with
	// SQLite.
	ownership *ntf.Ownership
}

// run holds the subscriptions until ctx ends: under ownership when
// instances share the database, else the supervisor alone.
func (s *subscriptionService) run(ctx context.Context) error {
	if s.ownership != nil {
		return s.ownership.Run(ctx)
	}
	return s.supervisor.Run(ctx)
}

// Stats gathers the figures the metrics export.
func (s *subscriptionService) Stats(ctx context.Context) (ntf.SubscriptionStats, error) {
	return ntf.CollectStats(ctx, s.supervisor, s.outbox, s.store)
}

// newSubscriptionService wires the outbox and the supervisor over db.
func newSubscriptionService(ctx context.Context, cfg subscriptionConfig, logger *slog.Logger, db *sqlstore.DB, tokens *ntf.Service, sealer ntf.Sealer, pusher ntf.Pusher) (*subscriptionService, error) {
	outbox, err := ntf.NewOutbox(db.Subscriptions(), db.Tokens(), sealer, pusher, logger, ntf.OutboxConfig{
		MessageSize: cfg.messageSize, Sweep: cfg.outboxSweep, Lease: cfg.outboxLease, MaxRetry: cfg.outboxMaxRetry,
	})
	if err != nil {
		return nil, err
	}
	sup, own, err := newOwnership(ctx, cfg.ownership, logger, db, sealer, func(owns func(string) bool, loadOnAcquire bool) *ntf.Supervisor {
		return ntf.NewSupervisor(db.Subscriptions(), sealer, outbox, logger, ntf.SupervisorConfig{
			MinBackoff: cfg.minBackoff, MaxBackoff: cfg.maxBackoff, Owns: owns, LoadOnAcquire: loadOnAcquire,
		})
	})
	if err != nil {
		return nil, err
	}
	var watcher ntf.Watcher = sup
	if own != nil {
		watcher = own
	}
	return &subscriptionService{subs: ntf.NewSubscriptions(tokens, db.Subscriptions(), sealer, watcher), supervisor: sup,
		outbox: outbox, store: db.Subscriptions(), ownership: own}, nil
}
