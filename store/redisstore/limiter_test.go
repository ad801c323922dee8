package redisstore_test

import (
	"testing"
	"time"

	"github.com/trystgw/tryst/ratelimit"
	"github.com/trystgw/tryst/store/redisstore"
	"github.com/trystgw/tryst/store/redisstore/redistest"
)

// newLimiters returns two limiters on separate clients sharing a prefix,
// as on two instances, reading the same settable clock.
func newLimiters(t *testing.T) (a, b *redisstore.Limiter, now *time.Time) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	limiter := func() *redisstore.Limiter {
		c, cfg := newClient(t, url)
		cfg.Prefix = prefix
		return redisstore.NewLimiter(c, func() time.Time { return clock }, cfg)
	}
	return limiter(), limiter(), &clock
}

func TestLimiterSharedBucket(t *testing.T) {
	a, b, now := newLimiters(t)
	rule := ratelimit.Rule{Rate: 2, Burst: 4}
	// The burst is shared: two requests through each instance use it up.
	for i, l := range []*redisstore.Limiter{a, b, a, b} {
		if ok, _, err := l.Allow(t.Context(), "client", rule); !ok || err != nil {
			t.Fatalf("request %d within the burst = %v, %v, want allowed", i, ok, err)
		}
	}
	ok, retry, err := b.Allow(t.Context(), "client", rule)
	if ok || err != nil || retry != 500*time.Millisecond {
		t.Errorf("Allow past the burst = %v, %v, %v, want refused, retry after 500ms", ok, retry, err)
	}
	if ok, _, _ := a.Allow(t.Context(), "other", rule); !ok {
		t.Errorf("another client refused")
	}
	*now = now.Add(499 * time.Millisecond)
	if ok, _, _ := a.Allow(t.Context(), "client", rule); ok {
		t.Errorf("Allow 1ms before a token is back allowed")
	}
	// The refused requests took nothing: one token is back after 500ms.
	*now = now.Add(time.Millisecond)
	if ok, _, _ := b.Allow(t.Context(), "client", rule); !ok {
		t.Errorf("Allow once a token is back refused")
	}
	if ok, _, _ := a.Allow(t.Context(), "client", rule); ok {
		t.Errorf("second Allow with one token back allowed")
	}
}

func TestLimiterIdleBucketExpires(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	c, cfg := newClient(t, url)
	cfg.Prefix = prefix
	l := redisstore.NewLimiter(c, time.Now, cfg)
	if ok, _, err := l.Allow(t.Context(), "client", ratelimit.Rule{Rate: 10, Burst: 5}); !ok || err != nil {
		t.Fatalf("first Allow = %v, %v", ok, err)
	}
	// One request's worth of refill at 10/s: the key lives about 100ms.
	ttl, err := c.PTTL(t.Context(), prefix+"rl:client").Result()
	if err != nil || ttl <= 0 || ttl > 100*time.Millisecond {
		t.Errorf("bucket TTL = %v, %v, want within (0, 100ms]", ttl, err)
	}
}

func TestLimiterZeroRuleAllows(t *testing.T) {
	a, _, _ := newLimiters(t)
	for range 10 {
		if ok, _, err := a.Allow(t.Context(), "client", ratelimit.Rule{}); !ok || err != nil {
			t.Fatalf("zero rule = %v, %v, want allowed", ok, err)
		}
	}
}
