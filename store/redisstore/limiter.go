package redisstore

import (
	"context"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/ratelimit"
)

var _ ratelimit.Limiter = (*Limiter)(nil)

// allowScript is the generic cell rate algorithm, a token bucket kept as
// one number: the theoretical arrival time (TAT) of the next request, in
// unix microseconds. A request is allowed when the TAT, advanced by one
// emission interval, is at most burst intervals ahead of now. The key
// expires when the bucket would be full again, so idle clients cost
// nothing.
// KEYS: bucket. ARGV: nowus, interval (µs), burst. Returns {1, 0} when
// allowed, else {0, µs until a request would be}.
var allowScript = redis.NewScript(`
local now, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local next = tat + interval
local allow_at = next - interval * tonumber(ARGV[3])
if now < allow_at then return {0, allow_at - now} end
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil((next - now) / 1000))
return {1, 0}
`)

// Limiter is a ratelimit.Limiter in Redis: a client's bucket is shared by
// every instance, so a Rule is the rate a client may reach across the
// deployment. Each Allow is one script call; the number of buckets is
// bounded by the clients active within a bucket's refill time, as idle
// buckets expire. It is safe for concurrent use.
type Limiter struct {
	client *redis.Client
	now    func() time.Time
	prefix string
}

// NewLimiter returns a Limiter over client reading time from now.
func NewLimiter(client *redis.Client, now func() time.Time, cfg Config) *Limiter {
	return &Limiter{client: client, now: now, prefix: cfg.withDefaults().Prefix + "rl:"}
}

// Allow implements ratelimit.Limiter. Errors caused by the transport wrap
// rendezvous.ErrUnavailable.
func (l *Limiter) Allow(ctx context.Context, key string, rule ratelimit.Rule) (bool, time.Duration, error) {
	if rule.Rate <= 0 {
		return true, 0, nil
	}
	interval := max(math.Round(1e6/rule.Rate), 1)
	res, err := allowScript.Run(ctx, l.client, []string{l.prefix + key},
		l.now().UnixMicro(), int64(interval), max(rule.Burst, 1)).Int64Slice()
	if err != nil {
		return false, 0, transportError(ctx, "rate limit", err)
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Microsecond, nil
}
