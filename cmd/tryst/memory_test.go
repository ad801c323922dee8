package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

func TestShouldRelease(t *testing.T) {
	const mib = 1 << 20
	start := memorySample{mapped: 30 * mib, goroutines: 20}
	for _, tt := range []struct {
		name     string
		m, prev  memorySample
		baseline memorySample
		want     bool
	}{
		{"small process", memorySample{mapped: 20 * mib, cycles: 7, goroutines: 20}, memorySample{cycles: 7}, memorySample{mapped: 5 * mib, goroutines: 20}, false},
		{"quiet after a burst", memorySample{mapped: 467 * mib, cycles: 7, goroutines: 25}, memorySample{cycles: 7}, start, true},
		{"busy: collections ran", memorySample{mapped: 467 * mib, cycles: 9, goroutines: 25}, memorySample{cycles: 7}, start, false},
		{"long-polls still waiting", memorySample{mapped: 467 * mib, cycles: 7, goroutines: 10_020}, memorySample{cycles: 7}, start, false},
		{"quiet at its usual size", memorySample{mapped: 467 * mib, cycles: 7, goroutines: 25}, memorySample{cycles: 7}, memorySample{mapped: 400 * mib, goroutines: 20}, false},
	} {
		if got := shouldRelease(tt.m, tt.prev, tt.baseline); got != tt.want {
			t.Errorf("%s: shouldRelease = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestReleaseIdleMemoryAfterBurst parks 2,000 goroutines holding 128 KiB
// each, lets them end, and checks that the releaser returns the memory to
// the OS within a few quiet intervals, with no collection of the test's to
// help it.
func TestReleaseIdleMemoryAfterBurst(t *testing.T) {
	debug.FreeOSMemory() // start from what the process needs, not from an earlier test's garbage
	releaser := newMemoryReleaser()
	released := make(chan uint64, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- releaser.run(ctx, 100*time.Millisecond, func(mapped uint64) {
			select {
			case released <- mapped:
			default:
			}
		})
	}()
	var ready, wg sync.WaitGroup
	end := make(chan struct{})
	for range 2000 {
		ready.Add(1)
		wg.Go(func() {
			buf := make([]byte, 128<<10)
			ready.Done()
			<-end
			runtime.KeepAlive(buf)
		})
	}
	ready.Wait()
	before := newMemoryReader().read().mapped
	close(end)
	wg.Wait()
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("no release within 10s of the burst's end")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if after := newMemoryReader().read().mapped; after+128<<20 > before {
		t.Errorf("mapped memory %d MiB at the burst's height, %d MiB after the release: want 128 MiB or more returned", before>>20, after>>20)
	}
}
