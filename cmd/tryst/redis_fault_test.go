package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/store/redisstore"
	"github.com/trystgw/tryst/store/redisstore/redistest"
)

// unavailableWithin bounds how long a request may take to answer 503 while
// Redis is unreachable.
const unavailableWithin = 3 * time.Second

// TestRedisOutage cuts the way from one gateway to Redis and restores it:
// meanwhile its rendezvous requests answer 503 M_UNAVAILABLE quickly and
// /readyz reports not ready; afterwards it serves again without a restart,
// and a long-poll it held through the outage is woken by a write on the
// other instance.
func TestRedisOutage(t *testing.T) {
	url := redistest.StoreURL(t, redistest.URL(t))
	proxy := redistest.NewProxy(t, redistest.Target(t, url))
	args := []string{"--create-rate", "0", "--write-rate", "0"}
	a := startServer(t, append([]string{"--rendezvous-store", proxy.URL(t, url)}, args...)...)
	b := startServer(t, append([]string{"--rendezvous-store", url}, args...)...)
	t.Cleanup(http.DefaultClient.CloseIdleConnections) // see startRedisPair

	resp, _ := a.do(t, http.MethodPost, "/rendezvous", "offer")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST on A = %d", resp.StatusCode)
	}
	path, etag := resp.Header.Get("Location"), resp.Header.Get("ETag")
	poll := make(chan result, 1)
	go func() { poll <- send(a, http.MethodGet, path, "", "If-None-Match", etag, "Prefer", "wait=20") }()
	waitForWaiters(t, a, 1)

	proxy.Cut()
	for _, req := range [][]string{{http.MethodPost, "/rendezvous"}, {http.MethodGet, path}, {http.MethodPut, path}} {
		start := time.Now()
		resp, body := a.do(t, req[0], req[1], "x")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"M_UNAVAILABLE"`) || time.Since(start) > unavailableWithin {
			t.Errorf("%s %s during the outage = %d %s after %v, want 503 M_UNAVAILABLE within %v",
				req[0], req[1], resp.StatusCode, body, time.Since(start), unavailableWithin)
		}
	}
	if resp, body := a.do(t, http.MethodGet, "/readyz", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage = %d %s, want 503", resp.StatusCode, body)
	}

	proxy.Restore()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, _ := a.do(t, http.MethodGet, "/readyz", "")
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 5s after Redis came back", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, body := a.do(t, http.MethodGet, path, ""); resp.StatusCode != http.StatusOK || body != "offer" {
		t.Errorf("GET on A after the outage = %d %q, want 200 offer", resp.StatusCode, body)
	}
	// Once A's notifier has subscribed again, a write on B must reach A's
	// long-poll.
	waitForSubscribers(t, url, 2)
	if resp, _ := b.do(t, http.MethodPut, path, "answer", "If-Match", etag); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PUT on B = %d, want 202", resp.StatusCode)
	}
	select {
	case got := <-poll:
		if got.status != http.StatusOK || got.body != "answer" {
			t.Errorf("long-poll held through the outage = %v, want 200 answer", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll held through the outage not woken by a write on B")
	}
}

// waitForSubscribers polls Redis until n gateways listen for wake-ups on
// the store at url.
func waitForSubscribers(t *testing.T, url string, n int64) {
	t.Helper()
	opts, cfg, err := redisstore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	channel := cfg.Prefix + "wake:" + redisstore.TopicRendezvous
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if subs, err := c.PubSubNumSub(t.Context(), channel).Result(); err == nil && subs[channel] == n {
			return
		}
	}
	t.Fatalf("fewer than %d subscribers on %s after 5s", n, channel)
}
