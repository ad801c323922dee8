package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/rendezvous/rendezvoustest"
	"github.com/trystgw/tryst/store/redisstore"
	"github.com/trystgw/tryst/store/redisstore/redistest"
)

// newClient returns a client for url set up as the gateway sets it up,
// with a key prefix of the test's own, closed when the test ends.
func newClient(t testing.TB, url string) (*redis.Client, redisstore.Config) {
	t.Helper()
	opts, cfg, err := redisstore.ParseURL(url)
	if err != nil {
		t.Fatalf("ParseURL: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c, cfg
}

func TestRendezvousStore(t *testing.T) {
	url := redistest.URL(t)
	rendezvoustest.TestStore(t, func(t testing.TB, now func() time.Time) rendezvous.Store {
		c, cfg := newClient(t, url)
		cfg.Prefix = redistest.Prefix(t, url)
		return redisstore.NewRendezvous(c, now, cfg)
	})
}

func TestNotifier(t *testing.T) {
	url := redistest.URL(t)
	rendezvoustest.TestNotifier(t, func(t testing.TB) (rendezvous.Notifier, rendezvous.Notifier) {
		prefix := redistest.Prefix(t, url)
		return newNotifier(t, url, prefix), newNotifier(t, url, prefix)
	})
}

// newNotifier returns a notifier on a client of its own, as on another
// instance, closed when the test ends.
func newNotifier(t testing.TB, url, prefix string) *redisstore.Notifier[rendezvous.ID] {
	t.Helper()
	c, cfg := newClient(t, url)
	cfg.Prefix = prefix
	n := redisstore.NewNotifier[rendezvous.ID](t.Context(), c, discardLogger(), cfg, redisstore.TopicRendezvous)
	t.Cleanup(func() { n.Close() })
	return n
}

// TestExpiryIsExact checks expiry to the nanosecond, below the
// microsecond scores of the live set.
func TestExpiryIsExact(t *testing.T) {
	url := redistest.URL(t)
	c, cfg := newClient(t, url)
	cfg.Prefix = redistest.Prefix(t, url)
	clock := rendezvoustest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC))
	s := redisstore.NewRendezvous(c, clock.Now, cfg)
	sess := rendezvoustest.NewSession(clock.Now(), "x")
	sess.Expires = clock.Now().Add(500 * time.Nanosecond) // in now's microsecond
	if _, err := s.Create(t.Context(), sess, rendezvous.Limit{Max: 1}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	clock.Advance(499 * time.Nanosecond)
	if n, err := s.Len(t.Context()); n != 1 || err != nil {
		t.Errorf("Len 1ns before expiry = %d, %v, want 1", n, err)
	}
	if _, err := s.Create(t.Context(), rendezvoustest.NewSession(clock.Now(), "y"), rendezvous.Limit{Max: 1}); !errors.Is(err, rendezvous.ErrFull) {
		t.Errorf("Create over the limit 1ns before expiry error = %v, want ErrFull", err)
	}
	clock.Advance(time.Nanosecond)
	if _, err := s.Get(t.Context(), sess.ID); !errors.Is(err, rendezvous.ErrNotFound) {
		t.Errorf("Get at expiry error = %v, want ErrNotFound", err)
	}
	if n, err := s.Len(t.Context()); n != 0 || err != nil {
		t.Errorf("Len at expiry = %d, %v, want 0", n, err)
	}
	if n, err := s.Reclaim(t.Context()); n != 1 || err != nil {
		t.Errorf("Reclaim at expiry = %d, %v, want 1", n, err)
	}
}

// TestRedisDropsExpiredSessions checks that Redis holds a session's key
// until its expiry plus the grace, and that a sliding write moves it.
func TestRedisDropsExpiredSessions(t *testing.T) {
	url := redistest.URL(t)
	c, cfg := newClient(t, url)
	cfg.Prefix = redistest.Prefix(t, url)
	cfg.Grace = 5 * time.Second
	clock := rendezvoustest.NewClock(time.Now())
	s := redisstore.NewRendezvous(c, clock.Now, cfg)
	sess := rendezvoustest.NewSession(clock.Now(), "x") // expires in a minute
	if _, err := s.Create(t.Context(), sess, rendezvous.Limit{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	checkTTL := func(what string, want time.Duration) {
		t.Helper()
		got, err := c.PTTL(t.Context(), cfg.Prefix+"s:"+string(sess.ID)).Result()
		if err != nil || got > want+10*time.Millisecond || got < want-time.Second {
			t.Errorf("key TTL %s = %v, %v, want about %v", what, got, err, want)
		}
	}
	checkTTL("after Create", time.Minute+cfg.Grace)
	clock.Advance(30 * time.Second)
	if _, err := s.Update(t.Context(), rendezvous.Write{ID: sess.ID, Now: clock.Now(), Expires: clock.Now().Add(2 * time.Minute)}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	checkTTL("after a sliding write", 2*time.Minute+cfg.Grace)
}
