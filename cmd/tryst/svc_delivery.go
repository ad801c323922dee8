package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/redisstore"
	"github.com/trystgw/tryst/store/sqlstore"
)

// deliveryService runs the MLS Delivery Service and the client queues it
// fans out to. Groups and queues live in the shared database; long-polls
// are woken in process, or through Redis when instances share one; wake-up
// pushes go through the shared push dispatcher to tokens registered with
// the notifications service (in the same database).
type deliveryService struct {
	ds      *ds.Service
	queues  *qs.Service
	db      *sqlstore.DB
	limiter ratelimit.Limiter
	close   func() error
}

func (s *deliveryService) Name() string { return "delivery" }

// Check loads the push configuration wake-up pushes are sent with and
// checks the master key the DS's signing secret is sealed with.
func (s *deliveryService) Check(ctx context.Context, env *serveEnv) error {
	if err := env.checkMasterKey(); err != nil {
		return err
	}
	return env.checkPush(ctx)
}

func (s *deliveryService) Start(ctx context.Context, env *serveEnv, loops *loopGroup) error {
	db, err := env.database(ctx)
	if err != nil {
		return err
	}
	dispatcher, router, err := env.pushDispatcher(ctx)
	if err != nil {
		return err
	}
	if s.limiter, err = env.rateLimiter(); err != nil {
		return err
	}
	notifier, closeNotifier, err := queueNotifier(ctx, env)
	if err != nil {
		return err
	}
	// Linking a queue only authenticates a token and reads it: no
	// sealing and no pushes of the token service's own.
	tokens := ntf.NewService(db.Tokens(), nil, nil, env.logger, ntf.Config{})
	s.queues = qs.NewService(db.Queues(), notifier, qs.NewTokens(tokens, db.Tokens()), dispatcher, env.logger, qs.Config{})
	if err := s.queues.RouteResults(router); err != nil {
		return err
	}
	key, err := env.masterKey(ctx)
	if err != nil {
		return err
	}
	sender, err := ds.LoadSenderKeys(ctx, db.SenderSecrets(), key)
	if err != nil {
		return err
	}
	s.ds = ds.NewService(db.Groups(), s.queues, env.logger, ds.Config{Sender: sender})
	s.db, s.close = db, closeNotifier
	loops.Go("queue sweep", s.queues.RunSweeper)
	return nil
}

// queueNotifier wakes queue long-polls in process, or across instances
// through the shared Redis.
func queueNotifier(ctx context.Context, env *serveEnv) (qs.Notifier, func() error, error) {
	if !env.sharedRedis() {
		return memstore.NewNotifier[qs.ID](), func() error { return nil }, nil
	}
	client, cfg, err := env.redisClient()
	if err != nil {
		return nil, nil, err
	}
	startCtx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	n := redisstore.NewNotifier[qs.ID](startCtx, client, env.logger, cfg, redisstore.TopicQueues)
	return n, n.Close, nil
}

func (s *deliveryService) Handlers(deps *handlers.Deps) {
	deps.DS, deps.Queues = s.ds, s.queues
	deps.Limiter = s.limiter // the one limiter of serveEnv
}

func (s *deliveryService) Ready() []handlers.ReadyCheck {
	return []handlers.ReadyCheck{{Name: "database", Check: s.db.Ping}}
}

func (s *deliveryService) Collectors() []prometheus.Collector {
	return []prometheus.Collector{handlers.DeliveryCollector(s.ds)}
}

// LongestWait is the longest queue long-poll.
func (s *deliveryService) LongestWait() time.Duration { return s.queues.Config().MaxWait }

// Stop stops the Redis notifier, if any; the database is shared.
func (s *deliveryService) Stop(context.Context) error { return s.close() }
