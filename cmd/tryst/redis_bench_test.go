package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/store/redisstore/redistest"
)

// benchClient keeps connections alive between requests, as a busy client
// behind one load balancer would.
func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// call sends one request and checks its status.
func call(c *http.Client, method, url, body string, want int, hdr ...string) (http.Header, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s = %d, want %d", method, url, resp.StatusCode, want)
	}
	return resp.Header, nil
}

// fullCycle is one session's life: POST, GET, PUT with If-Match, GET with
// If-None-Match (304), DELETE.
func fullCycle(c *http.Client, base string) error {
	h, err := call(c, http.MethodPost, base+"/rendezvous", "offer", http.StatusOK, "Content-Type", "text/plain")
	if err != nil {
		return err
	}
	url, etag := base+h.Get("Location"), h.Get("ETag")
	if _, err := call(c, http.MethodGet, url, "", http.StatusOK); err != nil {
		return err
	}
	if h, err = call(c, http.MethodPut, url, "answer", http.StatusAccepted, "Content-Type", "text/plain", "If-Match", etag); err != nil {
		return err
	}
	if _, err := call(c, http.MethodGet, url, "", http.StatusNotModified, "If-None-Match", h.Get("ETag")); err != nil {
		return err
	}
	_, err = call(c, http.MethodDelete, url, "", http.StatusNoContent)
	return err
}

// BenchmarkRedisWakeLatency measures how long a long-poll on one instance
// takes to answer after a write is sent to another: from sending the PUT
// on A to receiving the long-poll's response on B. It reports the median
// and 99th percentile.
func BenchmarkRedisWakeLatency(b *testing.B) {
	url := redistest.StoreURL(b, redistest.URL(b))
	args := []string{"--rendezvous-store", url, "--create-rate", "0", "--write-rate", "0"}
	a, bb := startServer(b, args...), startServer(b, args...)
	c := benchClient(b)
	latencies := make([]time.Duration, 0, b.N)
	for b.Loop() {
		d, err := wakeOnce(c, a.URL, bb.URL)
		if err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, d)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// wakeOnce creates a session on a, parks a long-poll for it on w, writes
// on a and returns how long the long-poll took to answer after the write
// was sent.
func wakeOnce(c *http.Client, a, w string) (time.Duration, error) {
	h, err := call(c, http.MethodPost, a+"/rendezvous", "offer", http.StatusOK)
	if err != nil {
		return 0, err
	}
	path, etag := h.Get("Location"), h.Get("ETag")
	done := make(chan error, 1)
	var woken time.Time
	go func() {
		_, err := call(c, http.MethodGet, w+path, "", http.StatusOK, "If-None-Match", etag, "Prefer", "wait=10")
		woken = time.Now()
		done <- err
	}()
	if err := waitWaiting(c, w); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := call(c, http.MethodPut, a+path, "answer", http.StatusAccepted, "If-Match", etag); err != nil {
		return 0, err
	}
	if err := <-done; err != nil {
		return 0, err
	}
	_, err = call(c, http.MethodDelete, a+path, "", http.StatusNoContent)
	return woken.Sub(start), err
}

// waitWaiting polls base's metrics until one long-poll waits there.
func waitWaiting(c *http.Client, base string) error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		resp, err := c.Get(base + "/metrics")
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if strings.Contains(string(body), "tryst_rendezvous_longpolls_waiting 1\n") {
			return nil
		}
	}
	return fmt.Errorf("no long-poll waiting on %s after 5s", base)
}
