package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushsetup"
	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/sqlstore"
)

// runServe runs the gateway until ctx ends or SIGINT/SIGTERM arrives, then
// shuts down gracefully: long-polls answer at once, other in-flight
// requests get the shutdown timeout to finish, then stores close.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := loadServeConfig(args, getenv, stdout)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.logLevel}))
	logger.Info("starting", cfg.logAttrs()...)

	backend, err := openRendezvousBackend(ctx, cfg.rendezvousStore, time.Now, logger)
	if err != nil {
		return err
	}
	defer backend.close()
	rdv := rendezvous.NewService(backend.store, backend.notifier, time.Now, cfg.rendezvous)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	db, err := sqlstore.Open(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	logger.Info("database", "kind", db.Kind(), "url", databaseForLog(cfg.databaseURL))
	notif, err := startNotifications(ctx, cfg, logger, reg, db)
	if err != nil {
		return err
	}
	defer func() { // on an early return; the normal path has done this already
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
		defer cancel()
		notif.stop(ctx)
	}()
	draining, startDraining := context.WithCancel(context.WithoutCancel(ctx))
	defer startDraining()
	srv := &http.Server{
		Handler: handlers.New(cfg.http, handlers.Deps{
			Logger: logger, Rendezvous: rdv, Tokens: notif.tokens, Limiter: backend.limiter, Registry: reg, Draining: draining,
			Ready: []handlers.ReadyCheck{{Name: "rendezvous_store", Check: rdv.Ping}, {Name: "database", Check: db.Ping}},
		}),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      rdv.Config().MaxWait + writeTimeoutMargin,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.shutdownTimeout)
	startDraining()
	// ctx is already cancelled; give in-flight requests a real grace period.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	// Reverse order of creation: HTTP server, then the check scheduler,
	// then the push dispatcher (drained, its results recorded in the
	// database), then, deferred, the stores.
	shutdownErr := srv.Shutdown(shutdownCtx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := notif.stop(shutdownCtx); err != nil {
		logger.Warn("push dispatcher did not drain", "err", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("shutdown: %w", shutdownErr)
	}
	logger.Info("stopped")
	return nil
}

// notifications are the push tokens and the push delivery behind them.
type notifications struct {
	tokens *ntf.Service
	// stop ends the periodic checks, then drains the dispatcher within
	// ctx's deadline. It may be called more than once.
	stop func(ctx context.Context) error
}

// startNotifications wires the token service to the push dispatcher built
// from --push-config (the log sender without one) and starts the periodic
// check scheduler.
func startNotifications(ctx context.Context, cfg serveConfig, logger *slog.Logger, reg prometheus.Registerer, db *sqlstore.DB) (*notifications, error) {
	key, err := loadMasterKey(cfg, logger)
	if err != nil {
		return nil, err
	}
	var tokens *ntf.Service // set below, before any push can finish
	resultCtx := context.WithoutCancel(ctx)
	dispatcher, err := pushsetup.FromFile(ctx, logger, cfg.pushConfig, push.DispatcherConfig{
		OnResult: func(r push.Result) { tokens.HandlePushResult(resultCtx, r) },
	}, reg)
	if err != nil {
		return nil, err
	}
	tokens = ntf.NewService(db.Tokens(), key, dispatcher, logger, ntf.Config{AppConfigured: routed(dispatcher.Routes())})
	checks := ntf.NewScheduler(db.Tokens(), dispatcher, logger, ntf.SchedulerConfig{Tick: cfg.checkTick})
	checksCtx, stopChecks := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	background.Go(func() { checks.Run(checksCtx) })
	return &notifications{tokens: tokens, stop: func(ctx context.Context) error {
		stopChecks()
		background.Wait()
		return dispatcher.Close(ctx)
	}}, nil
}

// loadMasterKey loads the master key file, generating it on first start
// when it is the default one in the data directory.
func loadMasterKey(cfg serveConfig, logger *slog.Logger) (*masterkey.Key, error) {
	if cfg.masterKeyFile != "" {
		return masterkey.Load(cfg.masterKeyFile)
	}
	path := filepath.Join(cfg.dataDir, defaultMasterKeyFile)
	key, created, err := masterkey.LoadOrCreate(path)
	if err != nil {
		return nil, err
	}
	if created {
		logger.Warn("master key generated: back it up, secrets at rest cannot be read without it", "path", path)
	} else {
		logger.Info("master key loaded", "path", path)
	}
	return key, nil
}

// defaultMasterKeyFile is the master key's name in the data directory.
const defaultMasterKeyFile = "master.key"

// routed reports whether routes deliver for a platform and app: a route
// of its own, or the platform's wildcard.
func routed(routes []push.Route) func(push.Platform, ntf.AppID) bool {
	set := make(map[push.Route]bool, len(routes))
	for _, r := range routes {
		set[r] = true
	}
	return func(p push.Platform, app ntf.AppID) bool {
		return set[push.Route{Platform: p, App: string(app)}] || set[push.Route{Platform: p}]
	}
}
