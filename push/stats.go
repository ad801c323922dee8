package push

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a Dispatcher's activity since it started. It is
// how the dispatcher reports: the HTTP layer turns it into metrics.
type Stats struct {
	// Routes has one entry per route, sorted by route.
	Routes []RouteStats
	// Latency has one entry per provider, sorted by provider.
	Latency []LatencyStats
}

// RouteStats are the figures of one route.
type RouteStats struct {
	Route Route
	// Provider names the provider the route sends to ("apns", "fcm", or a
	// Sender's own Provider()).
	Provider string
	// Sent counts notifications the provider accepted.
	Sent uint64
	// Failed counts notifications that finished without delivery, by
	// reason.
	Failed map[Reason]uint64
	// Retries counts retries scheduled after transient failures.
	Retries uint64
	// Rejected counts Enqueue refusals by reason: "queue_full",
	// "registration_busy", "closed" or "circuit_open".
	Rejected map[string]uint64
	// Pending is the notifications accepted and not yet finished (queued,
	// in flight or waiting to retry).
	Pending int64
	// CircuitOpen is true while the route's circuit breaker is open.
	CircuitOpen bool
}

// LatencyStats is the distribution of provider call durations of one
// provider.
type LatencyStats struct {
	Provider string
	Count    uint64
	Sum      time.Duration
	// Buckets[i] counts the calls that took at most LatencyBounds()[i]
	// (cumulative, as a histogram's buckets are).
	Buckets []uint64
}

// latencyBounds are the upper bounds of the latency buckets.
var latencyBounds = [...]time.Duration{
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second, 30 * time.Second,
}

// LatencyBounds returns the upper bounds of LatencyStats.Buckets.
func LatencyBounds() []time.Duration { return slices.Clone(latencyBounds[:]) }

// Stats returns the current figures. It is safe to call at any time,
// also during and after Close.
func (d *Dispatcher) Stats() Stats {
	var s Stats
	for _, r := range d.Routes() {
		s.Routes = append(s.Routes, d.lanes[r].stats())
	}
	providers := make([]string, 0, len(d.latency))
	for p := range d.latency {
		providers = append(providers, p)
	}
	slices.Sort(providers)
	for _, p := range providers {
		s.Latency = append(s.Latency, d.latency[p].snapshot(p))
	}
	return s
}

// laneStats are the running figures of one route.
type laneStats struct {
	sent, retries atomic.Uint64
	circuit       atomic.Bool
	latency       *latency // shared by the provider's routes

	mu       sync.Mutex
	failures map[Reason]uint64 // guarded by mu
	refusals map[string]uint64 // guarded by mu
}

func newLaneStats(lat *latency) *laneStats {
	return &laneStats{latency: lat, failures: map[Reason]uint64{}, refusals: map[string]uint64{}}
}

func (s *laneStats) failed(r Reason) {
	s.mu.Lock()
	s.failures[r]++
	s.mu.Unlock()
}

func (s *laneStats) rejected(reason string) {
	s.mu.Lock()
	s.refusals[reason]++
	s.mu.Unlock()
}

func (l *lane) stats() RouteStats {
	s := l.m
	s.mu.Lock()
	defer s.mu.Unlock()
	return RouteStats{
		Route: l.route, Provider: l.provider, Sent: s.sent.Load(), Retries: s.retries.Load(),
		Failed: maps(s.failures), Rejected: maps(s.refusals), Pending: l.pending.Load(), CircuitOpen: s.circuit.Load(),
	}
}

func maps[K comparable](m map[K]uint64) map[K]uint64 {
	out := make(map[K]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// latency is a histogram of provider call durations.
type latency struct {
	count   atomic.Uint64
	sum     atomic.Int64 // nanoseconds
	buckets [len(latencyBounds)]atomic.Uint64
}

func (h *latency) observe(d time.Duration) {
	h.count.Add(1)
	h.sum.Add(int64(d))
	for i, b := range latencyBounds {
		if d <= b {
			h.buckets[i].Add(1)
		}
	}
}

func (h *latency) snapshot(provider string) LatencyStats {
	s := LatencyStats{Provider: provider, Count: h.count.Load(), Sum: time.Duration(h.sum.Load()),
		Buckets: make([]uint64, len(latencyBounds))}
	for i := range h.buckets {
		s.Buckets[i] = h.buckets[i].Load()
	}
	return s
}
