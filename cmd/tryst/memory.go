package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning memory after a burst. Go's background scavenger gives freed
// heap back to the OS slowly, and only after a garbage collection has
// found it free; a gateway that goes quiet after 10,000 long-polls
// allocates too little to collect for minutes, so it kept ~450 MB RSS for
// 17 MB of live heap. releaseIdleMemory looks every interval at the
// runtime's memory and collects and returns it at once (FreeOSMemory) when
// a burst is over: the process is idle (no collection ran during the whole
// interval), its goroutines are back near their number after the last
// release (or at start), and it still holds at least twice the memory it
// held then. Under load collections run all the time, and while
// long-polls wait their goroutines are many, so the loop does nothing; a
// quiet gateway pays one metrics read per interval.
const (
	// memoryCheckInterval is how often the memory is looked at.
	memoryCheckInterval = 10 * time.Second
	// idleMemoryFloor is the mapped memory below which nothing is done:
	// the runtime keeps some to avoid asking the OS again at once.
	idleMemoryFloor = 64 << 20
	// growthRatio is how many times its size after the last release the
	// mapped memory must be before it is released again, and how many
	// times their number then (plus goroutineSlack) the goroutines may be.
	growthRatio    = 2
	goroutineSlack = 100
)

// memorySample is what releaseIdleMemory reads of the runtime.
type memorySample struct {
	mapped     uint64 // memory mapped from the OS and not returned
	cycles     uint64 // collections so far
	goroutines uint64
}

// memoryReader reads memory samples with reused buffers.
type memoryReader []metrics.Sample

func newMemoryReader() memoryReader {
	return memoryReader{
		{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/sched/goroutines:goroutines"},
	}
}

func (r memoryReader) read() memorySample {
	metrics.Read(r)
	v := func(i int) uint64 {
		if r[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return r[i].Value.Uint64()
	}
	return memorySample{mapped: v(0) - min(v(1), v(0)), cycles: v(2), goroutines: v(3)}
}

// shouldRelease is the rule, given the previous sample and the one after
// the last release.
func shouldRelease(m, prev, baseline memorySample) bool {
	idle := m.cycles == prev.cycles
	burstOver := m.goroutines <= growthRatio*baseline.goroutines+goroutineSlack
	return idle && burstOver && m.mapped >= idleMemoryFloor && m.mapped >= growthRatio*baseline.mapped
}

// memoryReleaser returns memory to the OS after bursts.
type memoryReleaser struct {
	reader   memoryReader
	baseline memorySample // after the last release, or at start
}

// newMemoryReleaser takes the process as it is now as its baseline.
func newMemoryReleaser() *memoryReleaser {
	r := newMemoryReader()
	return &memoryReleaser{reader: r, baseline: r.read()}
}

// run checks every interval until ctx ends. It reports each release
// through released, when not nil.
func (m *memoryReleaser) run(ctx context.Context, interval time.Duration, released func(mapped uint64)) error {
	prev := m.baseline
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := m.reader.read()
		if shouldRelease(now, prev, m.baseline) {
			debug.FreeOSMemory()
			if released != nil {
				released(now.mapped)
			}
			now = m.reader.read() // the collection FreeOSMemory ran is not activity
			m.baseline = now
		}
		prev = now
	}
}
