package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/redisstore"
)

// rendezvousBackend is where rendezvous sessions and long-poll wake-ups
// live.
type rendezvousBackend struct {
	store    rendezvous.Store
	notifier rendezvous.Notifier
	close    func() error
}

// redisStartTimeout bounds the wait for Redis at start-up; an unreachable
// Redis does not stop the gateway from starting (it reports not ready and
// recovers when Redis comes up).
const redisStartTimeout = 2 * time.Second

// isRedisURL reports whether url names a Redis server.
func isRedisURL(url string) bool {
	return strings.HasPrefix(url, "redis://") || strings.HasPrefix(url, "rediss://")
}

// checkRendezvousStore validates --rendezvous-store: "memory" (the
// default, one instance) or a redis:// or rediss:// URL (shared by
// several instances; see package redisstore for what is shared).
func checkRendezvousStore(url string) error {
	switch {
	case url == "" || url == "memory":
		return nil
	case isRedisURL(url):
		if _, _, err := redisstore.ParseURL(url); err != nil {
			return fmt.Errorf("rendezvous store: %w", err)
		}
		return nil
	}
	return fmt.Errorf("rendezvous store %q: want memory or redis://", redactURL(url))
}

// openRendezvousBackend opens the backend named by --rendezvous-store.
func openRendezvousBackend(ctx context.Context, env *serveEnv) (rendezvousBackend, error) {
	if !env.sharedRedis() {
		return rendezvousBackend{
			store:    memstore.NewRendezvous(env.now),
			notifier: memstore.NewNotifier[rendezvous.ID](),
			close:    func() error { return nil },
		}, nil
	}
	return openRedisBackend(ctx, env)
}

// openRedisBackend connects the store and notifier to the shared Redis
// client. close stops the notifier; the client closes with serveEnv.
func openRedisBackend(ctx context.Context, env *serveEnv) (rendezvousBackend, error) {
	client, cfg, err := env.redisClient()
	if err != nil {
		return rendezvousBackend{}, err
	}
	startCtx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	store := redisstore.NewRendezvous(client, env.now, cfg)
	if err := store.Ping(startCtx); err != nil {
		env.logger.Warn("rendezvous store unreachable; serving 503 until it answers", "err", err)
	}
	notifier := redisstore.NewNotifier[rendezvous.ID](startCtx, client, env.logger, cfg, redisstore.TopicRendezvous)
	env.logger.Info("rendezvous store", "kind", "redis", "prefix", cfg.Prefix)
	return rendezvousBackend{store: store, notifier: notifier, close: notifier.Close}, nil
}
