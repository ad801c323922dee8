package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/rendezvous"
)

// Defaults of Config and of the client options ParseURL fills in.
const (
	DefaultPrefix = "tryst:"
	// DefaultGrace is how long Redis keeps a session past its expiry before
	// dropping it by itself: longer than any sane clock skew between the
	// gateway instances and Redis, short enough not to hold memory for long.
	DefaultGrace = 30 * time.Second
	// defaultTimeout bounds dialling, reading and writing, and waiting for a
	// pooled connection: a request that Redis cannot serve fails after
	// about this long (503) instead of hanging.
	defaultTimeout = time.Second
	// reclaimBatch bounds the expired sessions one Reclaim removes, so one
	// script never blocks Redis for long after a large backlog expired.
	reclaimBatch = 1000
	// reclaimEvery spaces Reclaim's scripts: the service calls Reclaim
	// before every creation, and Redis drops expired sessions by itself,
	// so a sweep per second per instance keeps the live set short without
	// a round trip per creation.
	reclaimEvery = time.Second
)

// Config holds the optional settings shared by the store, the notifier and
// the limiter. The zero value means the defaults.
type Config struct {
	// Prefix starts every key and the channel name. Deployments sharing a
	// Redis database need different prefixes.
	Prefix string
	// Grace is how long Redis keeps a session past its expiry.
	Grace time.Duration
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	return c
}

// ParseURL parses a redis:// or rediss:// URL into client options and a
// Config. It accepts go-redis's query parameters (dial_timeout,
// read_timeout, pool_size, ...) and key_prefix for Config.Prefix. Timeouts
// the URL leaves unset are one second, and commands are not retried, so a
// request fails quickly while Redis is unreachable; the client recovers by
// itself when Redis returns. Errors do not repeat the URL, which may hold a
// password.
func ParseURL(rawURL string) (*redis.Options, Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, Config{}, fmt.Errorf("redis url: %w", err)
	}
	q := u.Query()
	cfg := Config{Prefix: q.Get("key_prefix")}
	q.Del("key_prefix")
	u.RawQuery = q.Encode()
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, Config{}, errors.New("redis url: invalid (want redis://[user:password@]host[:port][/db][?options])")
	}
	for _, d := range []*time.Duration{&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.PoolTimeout} {
		if *d == 0 {
			*d = defaultTimeout
		}
	}
	if opts.MaxRetries == 0 {
		// A retried script could run twice (its reply lost, not its effect).
		opts.MaxRetries = -1
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 1
	}
	// A request whose client has gone stops waiting for Redis.
	opts.ContextTimeoutEnabled = true
	return opts, cfg.withDefaults(), nil
}

// transportError wraps err, returned by the Redis client during op, with
// rendezvous.ErrUnavailable, unless it only reports that ctx ended.
func transportError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("redisstore: %s: %w", op, ctx.Err())
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, rendezvous.ErrUnavailable, err)
}
