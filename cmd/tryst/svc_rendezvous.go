package main

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/rendezvous"
)

// rendezvousService serves rendezvous sessions from memory or Redis. It
// touches neither the data directory nor the database.
type rendezvousService struct {
	rdv     *rendezvous.Service
	limiter ratelimit.Limiter
	close   func() error
}

func (s *rendezvousService) Name() string { return "rendezvous" }

// Check validates the store URL; the rendezvous settings were checked
// with the flags.
func (s *rendezvousService) Check(_ context.Context, env *serveEnv) error {
	return checkRendezvousStore(env.cfg.rendezvousStore)
}

func (s *rendezvousService) Start(ctx context.Context, env *serveEnv, _ *loopGroup) error {
	backend, err := openRendezvousBackend(ctx, env)
	if err != nil {
		return err
	}
	s.limiter, err = env.rateLimiter()
	if err != nil {
		return errors.Join(err, backend.close())
	}
	s.rdv = rendezvous.NewService(backend.store, backend.notifier, env.now, env.cfg.rendezvous)
	s.close = backend.close
	return nil
}

func (s *rendezvousService) Handlers(deps *handlers.Deps) {
	deps.Rendezvous = s.rdv
	deps.Limiter = s.limiter // the one limiter of serveEnv
}

func (s *rendezvousService) Ready() []handlers.ReadyCheck {
	return []handlers.ReadyCheck{{Name: "rendezvous_store", Check: s.rdv.Ping}}
}

func (s *rendezvousService) Collectors() []prometheus.Collector {
	return []prometheus.Collector{handlers.RendezvousCollector(s.rdv)}
}

// LongestWait is the longest rendezvous long-poll.
func (s *rendezvousService) LongestWait() time.Duration { return s.rdv.Config().MaxWait }

func (s *rendezvousService) Stop(context.Context) error { return s.close() }
