package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning memory after a burst. Go's background scavenger gives freed
// heap back to the OS slowly (minutes after 10,000 long-polls ended, the
// process still held ~450 MB RSS for 17 MB of live heap). releaseIdleMemory
// looks every interval at how much memory the runtime holds without using
// it and, when that is both large and several times the live heap, returns
// it at once. A quiet gateway pays one metrics read per interval; the
// forced collection happens only after a burst.
const (
	// memoryCheckInterval is how often the idle memory is looked at.
	memoryCheckInterval = 10 * time.Second
	// idleMemoryFloor is the idle memory below which nothing is done: the
	// runtime keeps some to avoid asking the OS again at once.
	idleMemoryFloor = 64 << 20
	// idleToLiveRatio is how many times the live heap the idle memory must
	// be before it is released.
	idleToLiveRatio = 2
)

// idleMemory returns the heap memory that is free and still mapped (what
// the scavenger would give back) and the live heap after the last GC.
func idleMemory(samples []metrics.Sample) (idle, live uint64) {
	metrics.Read(samples)
	value := func(i int) uint64 {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return samples[i].Value.Uint64()
	}
	return value(0), value(1)
}

// shouldRelease is the rule: idle memory over the floor and over
// idleToLiveRatio times the live heap.
func shouldRelease(idle, live uint64) bool {
	return idle >= idleMemoryFloor && idle >= idleToLiveRatio*live
}

// releaseIdleMemory runs until ctx ends, returning idle memory to the OS
// after bursts. It reports each release through released, when not nil.
func releaseIdleMemory(ctx context.Context, interval time.Duration, released func(idle uint64)) error {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}, {Name: "/gc/heap/live:bytes"}}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if idle, live := idleMemory(samples); shouldRelease(idle, live) {
			debug.FreeOSMemory()
			if released != nil {
				released(idle)
			}
		}
	}
}
