package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/handlers"
	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/push"
	"github.com/trystgw/tryst/push/pushsetup"
	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/store/redisstore"
	"github.com/trystgw/tryst/store/sqlstore"
)

// serveEnv is what the services of `tryst serve` share: the
// configuration, the logger, the metrics registry, and resources opened on
// the first service's request and closed after every service stopped, in
// reverse order of opening. It is used by one goroutine at a time (serve
// starts services one after another).
type serveEnv struct {
	cfg    serveConfig
	logger *slog.Logger
	reg    *prometheus.Registry
	now    func() time.Time

	checkedKey  *masterkey.Key      // loaded by checkMasterKey, if it exists
	checkedPush *pushsetup.Prepared // loaded by checkPush
	db          *sqlstore.DB        // opened by database
	key         *masterkey.Key      // opened by masterKey
	redis       *redis.Client       // opened by redisClient
	limiter     ratelimit.Limiter   // opened by rateLimiter
	dispatcher  *push.Dispatcher    // opened by pushDispatcher
	router      *push.Router        // with dispatcher
	closers     []func(context.Context) error
}

func newServeEnv(cfg serveConfig, logger *slog.Logger, reg *prometheus.Registry) *serveEnv {
	return &serveEnv{cfg: cfg, logger: logger, reg: reg, now: time.Now}
}

// onClose adds fn to what close runs, before everything added earlier.
func (e *serveEnv) onClose(fn func(context.Context) error) {
	e.closers = append(e.closers, fn)
}

// close closes the shared resources in reverse order of opening, within
// ctx; it returns every error. Resources loaded by the checks and never
// used are released too.
func (e *serveEnv) close(ctx context.Context) error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i](ctx))
	}
	e.closers = nil
	if e.checkedPush != nil {
		e.checkedPush.Close()
		e.checkedPush = nil
	}
	return errors.Join(errs...)
}

// checkMasterKey loads the master key file if it was configured, or if
// the default one exists and is not empty; the default is created (or an
// empty one, left by a crash, replaced) by masterKey only.
func (e *serveEnv) checkMasterKey() error {
	if e.checkedKey != nil {
		return nil
	}
	path := e.cfg.masterKeyFile
	key, err := masterkey.Load(cmp.Or(path, filepath.Join(e.cfg.dataDir, defaultMasterKeyFile)))
	if path == "" && errors.Is(err, masterkey.ErrMissing) {
		return nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("master-key-file %s does not exist: %s", path, masterKeyHint)
	}
	if err != nil {
		return err
	}
	e.checkedKey = key
	return nil
}

// checkPush loads the push configuration and every app's credentials.
func (e *serveEnv) checkPush(ctx context.Context) error {
	if e.checkedPush != nil {
		return nil
	}
	p, err := pushsetup.Prepare(ctx, e.cfg.pushConfig)
	if err != nil {
		return err
	}
	e.checkedPush = p
	return nil
}

// database opens the durable store on first use.
func (e *serveEnv) database(ctx context.Context) (*sqlstore.DB, error) {
	if e.db != nil {
		return e.db, nil
	}
	db, err := sqlstore.Open(ctx, e.cfg.databaseURL)
	if err != nil {
		return nil, err
	}
	e.logger.Info("database", "kind", db.Kind(), "url", databaseForLog(e.cfg.databaseURL))
	e.db = db
	e.onClose(func(context.Context) error { return db.Close() })
	return db, nil
}

// masterKey returns the master key, generating the default file on first
// start, but never while the database holds secrets sealed with a key
// that is now missing: a new key would not open them.
func (e *serveEnv) masterKey(ctx context.Context) (*masterkey.Key, error) {
	if e.key != nil {
		return e.key, nil
	}
	if err := e.checkMasterKey(); err != nil {
		return nil, err
	}
	if e.checkedKey != nil {
		e.key = e.checkedKey
		return e.key, nil
	}
	path := filepath.Join(e.cfg.dataDir, defaultMasterKeyFile)
	key, created, err := masterkey.LoadOrCreate(path, func() error { return e.refuseNewKey(ctx, path) })
	if err != nil {
		return nil, err
	}
	if created {
		e.logger.Warn("master key generated: back it up, secrets at rest cannot be read without it", "path", path)
	} else {
		e.logger.Info("master key loaded", "path", path)
	}
	e.key = key
	return key, nil
}

// refuseNewKey is an error when the database holds sealed secrets, which
// the key at path, missing or empty now, was needed to open.
func (e *serveEnv) refuseNewKey(ctx context.Context, path string) error {
	db, err := e.database(ctx)
	if err != nil {
		return err
	}
	sealed, err := db.HoldsSealedSecrets(ctx)
	if err == nil && sealed {
		err = fmt.Errorf("master key %s is missing or empty, but the database holds secrets sealed with it: restore the key file from a backup (or move the database away to start afresh)", path)
	}
	return err
}

// defaultMasterKeyFile is the master key's name in the data directory.
const defaultMasterKeyFile = "master.key"

// pushDispatcher returns the push dispatcher, built on first use from the
// configuration checkPush loaded, and the router its results go through:
// each service registers the owner kinds of the pushes it sends. The
// dispatcher is drained when the shared resources close, after every
// service stopped sending.
func (e *serveEnv) pushDispatcher(ctx context.Context) (*push.Dispatcher, *push.Router, error) {
	if e.dispatcher != nil {
		return e.dispatcher, e.router, nil
	}
	if err := e.checkPush(ctx); err != nil {
		return nil, nil, err
	}
	router := push.NewRouter(e.logger)
	d, err := e.checkedPush.Dispatcher(e.logger, push.DispatcherConfig{OnResult: router.Deliver})
	if err != nil {
		return nil, nil, err
	}
	e.checkedPush = nil // the dispatcher owns the senders now
	unrouted := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "tryst_push_results_unrouted_total",
		Help: "Push results whose owner kind has no handler (a wiring fault: their outcome is lost).",
	}, func() float64 { return float64(router.Unrouted()) })
	if err := errors.Join(e.reg.Register(handlers.PushCollector(d)), e.reg.Register(unrouted)); err != nil {
		d.Close(ctx)
		return nil, nil, fmt.Errorf("push metrics: %w", err)
	}
	e.dispatcher, e.router = d, router
	e.onClose(func(ctx context.Context) error {
		// Undelivered notifications are the outbox's to retry, not a
		// failure of the shutdown.
		if err := d.Close(ctx); err != nil {
			e.logger.Warn("push dispatcher did not drain", "err", err)
		}
		return nil
	})
	return d, router, nil
}

// redisClient returns the client of the Redis named by
// --rendezvous-store, connected on first use.
func (e *serveEnv) redisClient() (*redis.Client, redisstore.Config, error) {
	opts, cfg, err := redisstore.ParseURL(e.cfg.rendezvousStore)
	if err != nil {
		return nil, cfg, fmt.Errorf("rendezvous store: %w", err)
	}
	if e.redis == nil {
		redisstore.RouteLibraryLogs(e.logger)
		e.redis = redis.NewClient(opts)
		client := e.redis
		e.onClose(func(context.Context) error { return client.Close() })
		e.logger.Info("redis", "addr", opts.Addr, "db", opts.DB, "prefix", cfg.Prefix)
	}
	return e.redis, cfg, nil
}

// sharedRedis reports whether state shared by instances lives in Redis.
func (e *serveEnv) sharedRedis() bool { return isRedisURL(e.cfg.rendezvousStore) }

// rateLimiter returns the per-client rate limiter: in memory, or in Redis
// when instances share it.
func (e *serveEnv) rateLimiter() (ratelimit.Limiter, error) {
	if e.limiter != nil {
		return e.limiter, nil
	}
	if !e.sharedRedis() {
		e.limiter = ratelimit.NewMemory(e.now, ratelimit.DefaultMaxKeys)
		return e.limiter, nil
	}
	client, cfg, err := e.redisClient()
	if err != nil {
		return nil, err
	}
	e.limiter = redisstore.NewLimiter(client, e.now, cfg)
	return e.limiter, nil
}
