package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/redisstore"
)

// rendezvousBackend is where rendezvous sessions, long-poll wake-ups and
// the rate limiter's buckets live.
type rendezvousBackend struct {
	store    rendezvous.Store
	notifier rendezvous.Notifier
	limiter  ratelimit.Limiter
	close    func() error
}

// redisStartTimeout bounds the wait for Redis at start-up; an unreachable
// Redis does not stop the gateway from starting (it reports not ready and
// recovers when Redis comes up).
const redisStartTimeout = 2 * time.Second

// openRendezvousBackend opens the backend named by url: "memory" (the
// default, one instance) or a redis:// or rediss:// URL (shared by several
// instances; see package redisstore for what is shared).
func openRendezvousBackend(ctx context.Context, url string, now func() time.Time, logger *slog.Logger) (rendezvousBackend, error) {
	switch {
	case url == "" || url == "memory":
		return rendezvousBackend{
			store:    memstore.NewRendezvous(now),
			notifier: memstore.NewNotifier(),
			limiter:  ratelimit.NewMemory(now, ratelimit.DefaultMaxKeys),
			close:    func() error { return nil },
		}, nil
	case strings.HasPrefix(url, "redis://") || strings.HasPrefix(url, "rediss://"):
		return openRedisBackend(ctx, url, now, logger)
	}
	return rendezvousBackend{}, fmt.Errorf("rendezvous store %q: want memory or redis://", redactURL(url))
}

// openRedisBackend connects the store, notifier and limiter to the Redis
// at url. close stops the notifier, then closes the client.
func openRedisBackend(ctx context.Context, url string, now func() time.Time, logger *slog.Logger) (rendezvousBackend, error) {
	opts, cfg, err := redisstore.ParseURL(url)
	if err != nil {
		return rendezvousBackend{}, fmt.Errorf("rendezvous store: %w", err)
	}
	client := redis.NewClient(opts)
	startCtx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	store := redisstore.NewRendezvous(client, now, cfg)
	if err := store.Ping(startCtx); err != nil {
		logger.Warn("rendezvous store unreachable; serving 503 until it answers", "err", err)
	}
	notifier := redisstore.NewNotifier(startCtx, client, logger, cfg)
	logger.Info("rendezvous store", "kind", "redis", "addr", opts.Addr, "db", opts.DB, "prefix", cfg.Prefix)
	return rendezvousBackend{
		store:    store,
		notifier: notifier,
		limiter:  redisstore.NewLimiter(client, now, cfg),
		close:    func() error { return errors.Join(notifier.Close(), client.Close()) },
	}, nil
}
