package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/trystgw/tryst/handlers"
)

// runServe runs the gateway until ctx ends or SIGINT/SIGTERM arrives, then
// shuts down gracefully: long-polls answer at once, other in-flight
// requests get the shutdown timeout to finish, then the services stop in
// reverse order and the shared stores close.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := loadServeConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.logLevel}))
	logger.Info("starting", cfg.logAttrs()...)
	return serve(ctx, cfg, logger, selectServices(cfg.services))
}

// runningService is a started service and its background loops.
type runningService struct {
	svc   service
	loops *loopGroup
}

// serve checks every service, listens, starts the services, and serves
// HTTP until ctx ends or a background loop fails; then it shuts down. It
// returns the failed loop's error, if one failed.
func serve(ctx context.Context, cfg serveConfig, logger *slog.Logger, services []service) (err error) {
	env := newServeEnv(cfg, logger, newRegistry())
	defer func() {
		// "stopped" is the last line: after it the process only exits.
		if err = errors.Join(err, closeEnv(ctx, cfg, env)); err == nil {
			logger.Info("stopped")
		}
	}()
	if err := checkServices(ctx, env, services); err != nil {
		return err
	}
	// Listening before anything is opened or created makes a busy port
	// fail start-up with nothing written.
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close() // Serve closes it too; this is for a failed start
	ln = limitConns(ln, cfg.conns, env.reg)
	stopMetrics, err := serveMetrics(cfg.metricsAddr, env.reg, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	sup := newSupervisor(context.WithoutCancel(ctx))
	process := sup.Group("process")
	releaser := newMemoryReleaser()
	process.Go("memory release", func(ctx context.Context) error {
		return releaser.run(ctx, memoryCheckInterval, func(mapped uint64) {
			logger.Debug("returned idle memory to the OS", "mapped_mib", mapped>>20)
		})
	})
	running, err := startServices(ctx, env, sup, services)
	if err == nil {
		err = serveHTTP(ctx, cfg, env, sup, running, ln)
	}
	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	err = errors.Join(err, stopServices(grace, running), process.Stop(grace))
	if err := waitLoops(grace, sup); err != nil {
		logger.Warn("background loops did not stop", "err", err)
	}
	return err
}

// newRegistry returns the metrics registry with the Go runtime's and the
// process's metrics.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// checkServices runs every service's Check and reports all problems.
func checkServices(ctx context.Context, env *serveEnv, services []service) error {
	var errs []error
	for _, s := range services {
		if err := s.Check(ctx, env); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// startServices starts services in order and registers their metrics.
// On error it returns the ones started so far, for stopServices.
func startServices(ctx context.Context, env *serveEnv, sup *supervisor, services []service) ([]runningService, error) {
	var running []runningService
	for _, s := range services {
		loops := sup.Group(s.Name())
		if err := s.Start(ctx, env, loops); err != nil {
			return running, errors.Join(fmt.Errorf("%s: %w", s.Name(), err), loops.Stop(ctx))
		}
		running = append(running, runningService{svc: s, loops: loops})
		for _, c := range s.Collectors() {
			if err := env.reg.Register(c); err != nil {
				return running, fmt.Errorf("%s: metrics: %w", s.Name(), err)
			}
		}
		env.logger.Info("service started", "service", s.Name())
	}
	return running, nil
}

// stopServices stops the running services in reverse order, each after
// its loops returned, within ctx.
func stopServices(ctx context.Context, running []runningService) error {
	var errs []error
	for i := len(running) - 1; i >= 0; i-- {
		r := running[i]
		if err := errors.Join(r.loops.Stop(ctx), r.svc.Stop(ctx)); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", r.svc.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// waitLoops waits for every background loop to return, or for ctx.
func waitLoops(ctx context.Context, sup *supervisor) error {
	done := make(chan struct{})
	go func() { sup.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeEnv closes the shared resources within a fresh shutdown grace.
func closeEnv(ctx context.Context, cfg serveConfig, env *serveEnv) error {
	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	return env.close(grace)
}

// serveHTTP serves on ln until ctx ends (nil), a background loop fails
// (its error) or the server fails; then it shuts the server down
// gracefully.
func serveHTTP(ctx context.Context, cfg serveConfig, env *serveEnv, sup *supervisor, running []runningService, ln net.Listener) error {
	draining, startDraining := context.WithCancel(context.WithoutCancel(ctx))
	defer startDraining()
	srv := newHTTPServer(cfg, env, running, draining)
	env.logger.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var failure error
	select {
	case err := <-errc:
		return err
	case <-sup.Failed():
		failure = sup.Err()
		env.logger.Error("background loop failed, shutting down", "err", failure)
	case <-ctx.Done():
	}
	env.logger.Info("shutting down", "grace", cfg.shutdownTimeout)
	startDraining()
	// ctx is already cancelled; give in-flight requests a real grace period.
	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(grace)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return errors.Join(failure, err)
	}
	if shutdownErr != nil {
		return errors.Join(failure, fmt.Errorf("shutdown: %w", shutdownErr))
	}
	return failure
}

// newHTTPServer builds the server of the running services' handlers.
// Its write timeout outlasts the longest wait of any service.
func newHTTPServer(cfg serveConfig, env *serveEnv, running []runningService, draining context.Context) *http.Server {
	deps := handlers.Deps{Logger: env.logger, Registry: env.reg, Draining: draining}
	writeTimeout := minWriteTimeout
	for _, r := range running {
		r.svc.Handlers(&deps)
		deps.Ready = append(deps.Ready, r.svc.Ready()...)
		if lp, ok := r.svc.(longPoller); ok {
			writeTimeout = max(writeTimeout, lp.LongestWait()+writeTimeoutMargin)
		}
	}
	return &http.Server{
		Handler:           handlers.New(cfg.http, deps),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       cfg.readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(env.logger.Handler(), slog.LevelWarn),
	}
}
