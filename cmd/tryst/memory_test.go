package main

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestShouldRelease(t *testing.T) {
	for _, tt := range []struct {
		idle, live uint64
		want       bool
	}{
		{0, 0, false},
		{idleMemoryFloor - 1, 0, false},
		{idleMemoryFloor, 0, true},
		{idleMemoryFloor, idleMemoryFloor, false},
		{400 << 20, 17 << 20, true},
		{400 << 20, 300 << 20, false},
	} {
		if got := shouldRelease(tt.idle, tt.live); got != tt.want {
			t.Errorf("shouldRelease(%d, %d) = %v, want %v", tt.idle, tt.live, got, tt.want)
		}
	}
}

// TestReleaseIdleMemoryAfterBurst frees a large allocation and checks that
// the loop hands the freed heap back to the OS within a few intervals.
func TestReleaseIdleMemoryAfterBurst(t *testing.T) {
	burst := make([][]byte, 256)
	for i := range burst {
		burst[i] = make([]byte, 1<<20)
	}
	runtime.KeepAlive(burst)
	burst = nil
	runtime.GC() // the 256 MiB are free now, mostly not yet returned
	releasedBytes := make(chan uint64, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- releaseIdleMemory(ctx, 10*time.Millisecond, func(idle uint64) {
			select {
			case releasedBytes <- idle:
			default:
			}
		})
	}()
	select {
	case idle := <-releasedBytes:
		if idle < idleMemoryFloor {
			t.Errorf("released at %d idle bytes, below the floor", idle)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no release within 5s of freeing 256 MiB")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	if free := s[0].Value.Uint64(); free >= idleMemoryFloor {
		t.Errorf("%d bytes of free heap still mapped after the release", free)
	}
}
