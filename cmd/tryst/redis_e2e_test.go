package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trystgw/tryst/store/redisstore/redistest"
)

// startRedisPair starts two gateways sharing one Redis (and a key prefix
// of the test's own), as two instances behind a load balancer.
func startRedisPair(t *testing.T, args ...string) (a, b *testServer) {
	t.Helper()
	url := redistest.StoreURL(t, redistest.URL(t))
	args = append([]string{"--rendezvous-store", url}, args...)
	a, b = startServer(t, args...), startServer(t, args...)
	// Connections dialled by racing requests and never used would hold up
	// each server's shutdown for 5 s (net/http waits that long for a
	// first request); closing them first lets the servers stop at once.
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return a, b
}

// result is a response as seen from a goroutine other than the test's.
type result struct {
	status int
	header http.Header
	body   string
	err    error
}

// send is testServer.do for goroutines that must not call t.Fatal.
func send(s *testServer, method, path, body string, hdr ...string) result {
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

func (r result) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("%d %q", r.status, r.body)
}

// TestRedisTwoInstances runs a whole exchange across two gateways: every
// step may land on either instance.
func TestRedisTwoInstances(t *testing.T) {
	a, b := startRedisPair(t, "--create-rate", "0", "--write-rate", "0", "--rendezvous-ttl", "10s")
	for _, s := range []*testServer{a, b} {
		if resp, body := s.do(t, http.MethodGet, "/readyz", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s/readyz = %d %s", s.URL, resp.StatusCode, body)
		}
	}

	// Device 1 creates the session on A; device 2 reads it on B.
	resp, _ := a.do(t, http.MethodPost, "/rendezvous", "offer", "Content-Type", "text/plain")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST on A = %d", resp.StatusCode)
	}
	path, etag1 := resp.Header.Get("Location"), resp.Header.Get("ETag")
	expires := resp.Header.Get("Expires")
	resp, body := b.do(t, http.MethodGet, path, "")
	if resp.StatusCode != http.StatusOK || body != "offer" || resp.Header.Get("ETag") != etag1 || resp.Header.Get("Expires") != expires {
		t.Fatalf("GET on B = %d %q ETag %s Expires %s, want 200 offer, %s, %s", resp.StatusCode, body,
			resp.Header.Get("ETag"), resp.Header.Get("Expires"), etag1, expires)
	}

	// Device 1 long-polls on A for the reply that device 2 writes on B.
	reply := make(chan result, 1)
	go func() { reply <- send(a, http.MethodGet, path, "", "If-None-Match", etag1, "Prefer", "wait=10") }()
	waitForWaiters(t, a, 1)
	resp, _ = b.do(t, http.MethodPut, path, "answer", "Content-Type", "text/plain", "If-Match", etag1)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PUT on B = %d, want 202", resp.StatusCode)
	}
	etag2 := resp.Header.Get("ETag")
	if got := <-reply; got.status != http.StatusOK || got.body != "answer" || got.header.Get("ETag") != etag2 {
		t.Fatalf("long-poll on A = %v, want 200 answer with ETag %s", got, etag2)
	}

	// And the other way round: a long-poll on B woken by a write on A.
	confirm := make(chan result, 1)
	go func() { confirm <- send(b, http.MethodGet, path, "", "If-None-Match", etag2, "Prefer", "wait=10") }()
	waitForWaiters(t, b, 1)
	if resp, _ = a.do(t, http.MethodPut, path, "confirm", "Content-Type", "text/plain", "If-Match", etag2); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PUT on A = %d, want 202", resp.StatusCode)
	}
	if got := <-confirm; got.status != http.StatusOK || got.body != "confirm" {
		t.Fatalf("long-poll on B = %v, want 200 confirm", got)
	}
	if resp, _ = a.do(t, http.MethodPut, path, "late", "If-Match", etag1); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("PUT on A with a stale tag = %d, want 412", resp.StatusCode)
	}

	// Device 2 deletes on B; A sees it gone.
	if resp, _ = b.do(t, http.MethodDelete, path, ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE on B = %d, want 204", resp.StatusCode)
	}
	if resp, _ = a.do(t, http.MethodGet, path, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET on A after DELETE on B = %d, want 404", resp.StatusCode)
	}
}

// TestRedisConcurrentWritersAcrossInstances sends 50 writers with the same
// If-Match, alternately to each instance: exactly one wins.
func TestRedisConcurrentWritersAcrossInstances(t *testing.T) {
	a, b := startRedisPair(t, "--create-rate", "0", "--write-rate", "0")
	const base = "/_matrix/client/unstable/org.matrix.msc4108/rendezvous"
	resp, _ := a.do(t, http.MethodPost, base, "start", "Content-Type", "text/plain")
	path, etag := resp.Header.Get("Location"), resp.Header.Get("ETag")
	const writers = 50
	var won, lost atomic.Int32
	var wg sync.WaitGroup
	for i := range writers {
		s := []*testServer{a, b}[i%2]
		wg.Go(func() {
			res := send(s, http.MethodPut, path, fmt.Sprint("writer ", i), "Content-Type", "text/plain", "If-Match", etag)
			switch res.status {
			case http.StatusAccepted:
				won.Add(1)
			case http.StatusPreconditionFailed:
				lost.Add(1)
			default:
				t.Errorf("writer %d: %v", i, res)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != writers-1 {
		t.Errorf("%d writers won and %d got 412, want exactly 1 and %d", won.Load(), lost.Load(), writers-1)
	}
	// Both instances agree on the one version that won.
	respA, bodyA := a.do(t, http.MethodGet, path, "")
	respB, bodyB := b.do(t, http.MethodGet, path, "")
	if bodyA != bodyB || respA.Header.Get("ETag") != respB.Header.Get("ETag") || respA.Header.Get("ETag") == etag {
		t.Errorf("after the race A has %q %s, B has %q %s, want the same new version", bodyA, respA.Header.Get("ETag"), bodyB, respB.Header.Get("ETag"))
	}
}

// TestRedisExpiryOnBothInstances waits out the shortest TTL the contract
// allows (10 s, on the gateways' real clocks): both instances report the
// same expiry, and both answer 404 once it has passed.
func TestRedisExpiryOnBothInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 10 s for a session to expire")
	}
	a, b := startRedisPair(t, "--create-rate", "0", "--write-rate", "0", "--rendezvous-ttl", "10s")
	const base = "/_matrix/client/unstable/io.element.msc4388/rendezvous"
	resp, body := a.do(t, http.MethodPost, base, `{"data":"x"}`, "Content-Type", "application/json")
	var created struct {
		ID          string `json:"id"`
		ExpiresInMs int64  `json:"expires_in_ms"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &created) != nil {
		t.Fatalf("POST on A = %d %s", resp.StatusCode, body)
	}
	expiresAt := time.Now().Add(time.Duration(created.ExpiresInMs) * time.Millisecond)
	path := base + "/" + created.ID
	var onB struct {
		ExpiresInMs int64 `json:"expires_in_ms"`
	}
	resp, body = b.do(t, http.MethodGet, path, "")
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &onB) != nil {
		t.Fatalf("GET on B = %d %s", resp.StatusCode, body)
	}
	if d := created.ExpiresInMs - onB.ExpiresInMs; d < 0 || d > 1000 {
		t.Errorf("expires_in_ms on A %d then on B %d, want the same expiry", created.ExpiresInMs, onB.ExpiresInMs)
	}
	time.Sleep(time.Until(expiresAt) + 50*time.Millisecond)
	for name, s := range map[string]*testServer{"A": a, "B": b} {
		if resp, body := s.do(t, http.MethodGet, path, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET on %s after expiry = %d %s, want 404", name, resp.StatusCode, body)
		}
	}
}

// TestRedisSharedCreateLimit checks that a client's creation bucket is one
// for the deployment, whichever instance it reaches.
func TestRedisSharedCreateLimit(t *testing.T) {
	a, b := startRedisPair(t, "--create-rate", "0.01", "--create-burst", "2")
	for i, s := range []*testServer{a, b} {
		if resp, _ := s.do(t, http.MethodPost, "/rendezvous", "x"); resp.StatusCode != http.StatusOK {
			t.Fatalf("creation %d within the burst = %d", i, resp.StatusCode)
		}
	}
	for name, s := range map[string]*testServer{"A": a, "B": b} {
		if resp, body := s.do(t, http.MethodPost, "/rendezvous", "x"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("creation on %s past the shared burst = %d %s, want 429 with Retry-After", name, resp.StatusCode, body)
		}
	}
}
