package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/store/sqlstore"
)

// notificationsService serves push tokens: registration and verification
// over HTTP, the periodic check pushes in the background, and the token
// side of push results. It uses the shared database, master key and push
// dispatcher.
type notificationsService struct {
	tokens  *ntf.Service
	subs    *subscriptionService
	db      *sqlstore.DB
	limiter ratelimit.Limiter
}

func (s *notificationsService) Name() string { return "notifications" }

// Check loads the push credentials and an existing master key, so that
// a bad --push-config or key file stops serve before anything is created.
func (s *notificationsService) Check(ctx context.Context, env *serveEnv) error {
	if err := env.checkPush(ctx); err != nil {
		return err
	}
	return env.checkMasterKey()
}

func (s *notificationsService) Start(ctx context.Context, env *serveEnv, loops *loopGroup) error {
	db, err := env.database(ctx)
	if err != nil {
		return err
	}
	key, err := env.masterKey(ctx)
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
	s.db = db
	s.tokens = ntf.NewService(db.Tokens(), key, dispatcher, env.logger, ntf.Config{Routes: dispatcher.Routes()})
	if err := s.tokens.RouteResults(router); err != nil {
		return err
	}
	checks := ntf.NewScheduler(db.Tokens(), dispatcher, env.logger, ntf.SchedulerConfig{Tick: env.cfg.checkTick, ExpireAfter: env.cfg.tokenExpiry})
	loops.Go("periodic checks", checks.Run)
	if s.subs, err = newSubscriptionService(ctx, env.cfg.subscriptions, env.logger, db, s.tokens, key, dispatcher); err != nil {
		return err
	}
	if err := s.subs.outbox.RouteResults(router); err != nil {
		return err
	}
	loops.Go("outbox", s.subs.outbox.Run)
	loops.Go("smp supervisor", s.subs.run)
	return nil
}

func (s *notificationsService) Handlers(deps *handlers.Deps) {
	deps.Tokens = s.tokens
	if s.subs != nil {
		deps.Subscriptions = s.subs.subs
	}
	deps.Limiter = s.limiter // the one limiter of serveEnv
}

func (s *notificationsService) Ready() []handlers.ReadyCheck {
	return []handlers.ReadyCheck{{Name: "database", Check: s.db.Ping}}
}

// Collectors exports the notification server's figures (the push
// metrics belong to the shared dispatcher).
func (s *notificationsService) Collectors() []prometheus.Collector {
	if s.subs == nil {
		return nil
	}
	cs := []prometheus.Collector{handlers.SubscriptionCollector(s.subs)}
	if s.subs.ownership != nil {
		cs = append(cs, handlers.OwnershipCollector(s.subs.ownership))
	}
	return cs
}

// Stop has nothing to release: the scheduler stopped with the service's
// loops, and the dispatcher and database are shared.
func (s *notificationsService) Stop(context.Context) error { return nil }
