package rendezvous

import (
	"context"
	"sync/atomic"
)

// counters are the Service's running totals, read by Stats.
type counters struct {
	created   atomic.Uint64
	expired   atomic.Uint64
	evicted   atomic.Uint64
	conflicts atomic.Uint64
	waiting   atomic.Int64
}

// Stats is a snapshot of the Service's activity since it started.
type Stats struct {
	Live      int    // live sessions in the store (all instances, if shared)
	Created   uint64 // sessions created by this instance
	Expired   uint64 // expired sessions this instance reclaimed
	Evicted   uint64 // sessions evicted by this instance to make room
	Conflicts uint64 // conditional writes refused for a stale version
	Waiting   int64  // long-polls waiting now on this instance
}

// Stats returns current figures, first reclaiming expired sessions so that
// Expired is up to date. Live is -1 when the store cannot be reached.
func (s *Service) Stats(ctx context.Context) Stats {
	s.reclaim(ctx)
	live, err := s.store.Len(ctx)
	if err != nil {
		live = -1
	}
	return Stats{
		Live:      live,
		Created:   s.stats.created.Load(),
		Expired:   s.stats.expired.Load(),
		Evicted:   s.stats.evicted.Load(),
		Conflicts: s.stats.conflicts.Load(),
		Waiting:   s.stats.waiting.Load(),
	}
}
