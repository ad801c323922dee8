package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestServeFullExchange(t *testing.T) {
	s := startServer(t, "--create-rate", "0", "--write-rate", "0")
	if resp, _ := s.do(t, http.MethodGet, "/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz = %d", resp.StatusCode)
	}
	if resp, body := s.do(t, http.MethodGet, "/readyz", ""); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"rendezvous_store":"ok"`) {
		t.Fatalf("/readyz = %d %s", resp.StatusCode, body)
	}

	// Device A creates the session.
	resp, body := s.do(t, http.MethodPost, "/rendezvous", "offer", "Content-Type", "text/plain")
	var created struct{ URL string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &created) != nil || !strings.HasPrefix(created.URL, s.URL+"/rendezvous/") {
		t.Fatalf("POST = %d %s, want 200 with an absolute url on this server", resp.StatusCode, body)
	}
	path := resp.Header.Get("Location")
	etagA := resp.Header.Get("ETag")

	// A long-polls for the answer; B reads the offer and replies.
	answer := make(chan string, 1)
	go func() {
		resp, body := s.do(t, http.MethodGet, path, "", "If-None-Match", etagA, "Prefer", "wait=10")
		answer <- fmt.Sprint(resp.StatusCode, " ", body)
	}()
	resp, body = s.do(t, http.MethodGet, path, "")
	if resp.StatusCode != http.StatusOK || body != "offer" || resp.Header.Get("ETag") != etagA {
		t.Fatalf("B's GET = %d %q %s", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	waitForWaiters(t, s, 1)
	resp, _ = s.do(t, http.MethodPut, path, "answer", "Content-Type", "text/plain", "If-Match", etagA)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("B's PUT = %d", resp.StatusCode)
	}
	if got := <-answer; got != "200 answer" {
		t.Errorf("A's long-poll = %q, want 200 answer", got)
	}
	if resp, _ = s.do(t, http.MethodPut, path, "late", "If-Match", etagA); resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("PUT with A's stale tag = %d, want 412", resp.StatusCode)
	}
	if resp, _ = s.do(t, http.MethodDelete, path, ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE = %d, want 204", resp.StatusCode)
	}
	if resp, _ = s.do(t, http.MethodGet, path, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET after DELETE = %d, want 404", resp.StatusCode)
	}
	_, metrics := s.do(t, http.MethodGet, "/metrics", "")
	for _, want := range []string{"tryst_rendezvous_sessions_created_total 1", "tryst_rendezvous_write_conflicts_total 1",
		`tryst_http_requests_total{method="PUT",route="/rendezvous/{id}",status="412"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// waitForWaiters polls /metrics until n long-polls wait.
func waitForWaiters(t *testing.T, s *testServer, n int) {
	t.Helper()
	want := fmt.Sprintf("tryst_rendezvous_longpolls_waiting %d\n", n)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, body := s.do(t, http.MethodGet, "/metrics", ""); strings.Contains(body, want) {
			return
		}
	}
	t.Fatalf("never saw %d waiting long-polls", n)
}

func TestServeConcurrentWritersOneWins(t *testing.T) {
	s := startServer(t, "--create-rate", "0", "--write-rate", "0")
	resp, _ := s.do(t, http.MethodPost, "/_matrix/client/unstable/org.matrix.msc4108/rendezvous", "start", "Content-Type", "text/plain")
	path, etag := resp.Header.Get("Location"), resp.Header.Get("ETag")
	const writers = 50
	var won, lost atomic.Int32
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			resp, _ := s.do(t, http.MethodPut, path, fmt.Sprint("writer ", i), "Content-Type", "text/plain", "If-Match", etag)
			switch resp.StatusCode {
			case http.StatusAccepted:
				won.Add(1)
			case http.StatusPreconditionFailed:
				lost.Add(1)
			default:
				t.Errorf("writer %d: status %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != writers-1 {
		t.Errorf("%d writers won and %d got 412, want exactly 1 and %d", won.Load(), lost.Load(), writers-1)
	}
}

func TestServeShutdownAnswersLongPolls(t *testing.T) {
	s := startServer(t)
	resp, _ := s.do(t, http.MethodPost, "/rendezvous", "x")
	path, etag := resp.Header.Get("Location"), resp.Header.Get("ETag")
	status := make(chan int, 1)
	go func() {
		resp, _ := s.do(t, http.MethodGet, path, "", "If-None-Match", etag, "Prefer", "wait=30")
		status <- resp.StatusCode
	}()
	waitForWaiters(t, s, 1)
	start := time.Now()
	if err := s.stop(); err != nil {
		t.Fatalf("run returned %v, want nil", err)
	}
	if got := <-status; got != http.StatusNotModified {
		t.Errorf("long-poll during shutdown = %d, want 304", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown with a waiting long-poll took %v, want it answered at once", d)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--rendezvous-ttl", "1s"},
		{"serve", "--rendezvous-mounts", "bogus:/x"},
		{"serve", "--rendezvous-when-full", "panic"},
		{"serve", "--trusted-proxies", "not-a-cidr"},
		{"serve", "--rendezvous-store", "ftp://x"},
		{"serve", "extra-arg"},
	} {
		if err := run(t.Context(), args, func(string) string { return "" }, new(strings.Builder)); err == nil {
			t.Errorf("run(%q) = nil, want a configuration error", args)
		}
	}
	env := map[string]string{"TRYST_RENDEZVOUS_TTL": "2h"}
	if err := run(t.Context(), []string{"serve"}, func(k string) string { return env[k] }, new(strings.Builder)); err == nil || !strings.Contains(err.Error(), "ttl") {
		t.Errorf("run with TRYST_RENDEZVOUS_TTL=2h = %v, want a ttl error", err)
	}
}
