package ntf

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds of the NMSG-to-push latency
// histogram's buckets.
var LatencyBounds = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
}

// histogram counts durations in LatencyBounds buckets; safe for
// concurrent use.
type histogram struct {
	counts [len(LatencyBounds) + 1]atomic.Int64 // the last is +Inf
	sumNs  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// Histogram is a snapshot of a latency histogram: Counts[i] observations
// were at most LatencyBounds[i] (and above the bound before); the last
// count is above every bound.
type Histogram struct {
	Counts [len(LatencyBounds) + 1]int64
	Sum    time.Duration
}

func (h *histogram) snapshot() Histogram {
	var s Histogram
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	s.Sum = time.Duration(h.sumNs.Load())
	return s
}

type supervisorCounters struct {
	connsUp, dialFailures               atomic.Int64
	nsubSent, nsubConfirmed, nsubFailed atomic.Int64
	nmsgReceived, nmsgStored            atomic.Int64
}

type outboxCounters struct {
	pushes, pushFailures atomic.Int64
	latency              histogram
}

// SupervisorStats is a snapshot of the supervisor's counters.
type SupervisorStats struct {
	// Servers is the number of SMP servers with watched queues;
	// ConnectionsUp how many of them have a live connection.
	Servers, ConnectionsUp int
	// Queues is the number of watched queues; Subscribed how many are
	// confirmed on the live connection.
	Queues, Subscribed int
	// DialFailures counts failed connection attempts.
	DialFailures int64
	// NSUBSent, NSUBConfirmed and NSUBFailed count NSUB commands.
	NSUBSent, NSUBConfirmed, NSUBFailed int64
	// NMSGReceived counts NMSG events; NMSGStored those written to the
	// outbox. EventsWaiting are received events not yet written.
	NMSGReceived, NMSGStored int64
	EventsWaiting            int
	// PerServer gives each server's queue count and whether it is up.
	PerServer map[string]ServerStats
}

// ServerStats is one SMP server's part of SupervisorStats.
type ServerStats struct {
	Up     bool
	Queues int
}

// Stats returns a snapshot of the supervisor's state and counters.
func (s *Supervisor) Stats() SupervisorStats {
	st := SupervisorStats{
		DialFailures: s.stats.dialFailures.Load(), NSUBSent: s.stats.nsubSent.Load(),
		NSUBConfirmed: s.stats.nsubConfirmed.Load(), NSUBFailed: s.stats.nsubFailed.Load(),
		NMSGReceived: s.stats.nmsgReceived.Load(), NMSGStored: s.stats.nmsgStored.Load(),
		EventsWaiting: s.events.depth(), PerServer: map[string]ServerStats{},
	}
	s.mu.Lock()
	servers := make([]*smpServer, 0, len(s.servers))
	for _, srv := range s.servers {
		servers = append(servers, srv)
	}
	s.mu.Unlock()
	for _, srv := range servers {
		up, queues, subscribed := srv.snapshot()
		st.Servers++
		st.Queues += queues
		st.Subscribed += subscribed
		if up {
			st.ConnectionsUp++
		}
		st.PerServer[srv.text] = ServerStats{Up: up, Queues: queues}
	}
	return st
}

// snapshot returns whether the server is connected, its queue count and
// how many are confirmed on the live connection.
func (v *smpServer) snapshot() (up bool, queues, subscribed int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.conn != 0, len(v.queues), v.subscribed
}

// OutboxStats is a snapshot of the outbox.
type OutboxStats struct {
	// Depth is the number of notifications not yet delivered; Oldest
	// when the oldest of them was received (zero when none).
	Depth  int
	Oldest time.Time
	// Pushes counts message pushes queued; PushFailures those the
	// provider did not accept.
	Pushes, PushFailures int64
	// Latency is the NMSG-to-push latency of delivered notifications:
	// from the NMSG's arrival to the provider's acceptance.
	Latency Histogram
}

// Stats returns a snapshot of the outbox; the depth comes from the store.
func (o *Outbox) Stats(ctx context.Context) (OutboxStats, error) {
	depth, oldest, err := o.store.OutboxStats(ctx)
	return OutboxStats{Depth: depth, Oldest: oldest, Pushes: o.stats.pushes.Load(),
		PushFailures: o.stats.pushFailures.Load(), Latency: o.stats.latency.snapshot()}, err
}

// SubscriptionStats is everything the notification server reports.
type SubscriptionStats struct {
	Supervisor SupervisorStats
	Outbox     OutboxStats
	// Queues counts the stored queues by status.
	Queues map[QueueStatus]int
}

// CollectStats gathers the figures of sup, outbox and store.
func CollectStats(ctx context.Context, sup *Supervisor, outbox *Outbox, store SubscriptionStore) (SubscriptionStats, error) {
	st := SubscriptionStats{Supervisor: sup.Stats()}
	var err1, err2 error
	st.Outbox, err1 = outbox.Stats(ctx)
	st.Queues, err2 = store.CountQueues(ctx)
	return st, errors.Join(err1, err2)
}
