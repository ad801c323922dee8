package redisstore_test

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/rendezvous/rendezvoustest"
	"github.com/trystgw/tryst/store/redisstore"
	"github.com/trystgw/tryst/store/redisstore/redistest"
)

// failFast bounds how long a request may take while Redis is unreachable.
const failFast = 2 * time.Second

// TestRedisUnreachable cuts the way to Redis under a store and a notifier,
// then restores it: requests fail quickly with ErrUnavailable meanwhile,
// and both work again afterwards without being rebuilt.
func TestRedisUnreachable(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	proxy := redistest.NewProxy(t, redistest.Target(t, url))
	direct := newNotifier(t, url, prefix) // another instance, still connected
	baseline := runtime.NumGoroutine()

	opts, cfg, err := redisstore.ParseURL(proxy.URL(t, url))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Prefix = prefix
	client := redis.NewClient(opts)
	store := redisstore.NewRendezvous(client, time.Now, cfg)
	cut := redisstore.NewNotifier[rendezvous.ID](t.Context(), client, discardLogger(), cfg, redisstore.TopicRendezvous)

	sess := rendezvoustest.NewSession(time.Now(), "before")
	if _, err := store.Create(t.Context(), sess, rendezvous.Limit{}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	missed, stopMissed := cut.Watch(sess.ID)
	defer stopMissed()

	proxy.Cut()
	for name, op := range map[string]func() error{
		"Get": func() error { _, err := store.Get(t.Context(), sess.ID); return err },
		"Update": func() error {
			_, err := store.Update(t.Context(), rendezvous.Write{ID: sess.ID, Now: time.Now()})
			return err
		},
		"Create": func() error {
			_, err := store.Create(t.Context(), rendezvoustest.NewSession(time.Now(), "x"), rendezvous.Limit{})
			return err
		},
		"Ping": func() error { return store.Ping(t.Context()) },
	} {
		start := time.Now()
		if err := op(); !errors.Is(err, rendezvous.ErrUnavailable) || time.Since(start) > failFast {
			t.Errorf("%s while cut = %v after %v, want ErrUnavailable within %v", name, err, time.Since(start), failFast)
		}
	}
	// A write on the other instance while the subscription is down.
	if err := direct.Notify(t.Context(), sess.ID); err != nil {
		t.Fatalf("Notify on the connected instance: %v", err)
	}

	proxy.Restore()
	// The resubscribed notifier wakes its watchers, as it may have missed
	// notifications.
	select {
	case <-missed:
	case <-time.After(5 * time.Second):
		t.Fatalf("watcher not woken within 5s of Redis coming back")
	}
	waitFor(t, "store serving again", func() bool {
		got, err := store.Get(t.Context(), sess.ID)
		return err == nil && string(got.Payload) == "before"
	})
	again, stopAgain := cut.Watch(sess.ID)
	defer stopAgain()
	if err := direct.Notify(t.Context(), sess.ID); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	select {
	case <-again:
	case <-time.After(5 * time.Second):
		t.Fatalf("notification from the other instance not delivered after recovery")
	}

	cut.Close()
	client.Close()
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
}

// waitFor polls cond for a few seconds, failing the test if it never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisSilent points a store at a server that accepts connections and
// never answers: requests still fail quickly, by the client's timeouts.
func TestRedisSilent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range held {
			c.Close()
		}
	})
	c, cfg := newClient(t, "redis://"+ln.Addr().String()+"/0")
	store := redisstore.NewRendezvous(c, time.Now, cfg)
	start := time.Now()
	_, err = store.Get(t.Context(), rendezvous.NewID())
	if !errors.Is(err, rendezvous.ErrUnavailable) || time.Since(start) > failFast {
		t.Errorf("Get from a silent server = %v after %v, want ErrUnavailable within %v", err, time.Since(start), failFast)
	}
}
