package pushtest

import (
	"context"
	"sort"
	"sync"
	"time"
)

// ManualClock is a push.Clock that moves only when told to, and records
// the delay of every timer set: tests check backoff and Retry-After with
// it while real network calls run.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*manualTimer
	delays  []time.Duration
	changed changeSignal
}

type manualTimer struct {
	due     time.Time
	f       func()
	stopped bool
	fired   bool
}

// NewManualClock returns a clock reading start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start}
}

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run when the clock has advanced by d.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	t := &manualTimer{due: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	c.delays = append(c.delays, d)
	c.changed.notify()
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.fired || t.stopped {
			return false
		}
		t.stopped = true
		return true
	}
}

// Advance moves the clock forward by d and runs the timers that fall due,
// in due order, synchronously.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*manualTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.due.After(c.now):
			t.fired = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].due.Before(due[j].due) })
	for _, t := range due {
		t.f()
	}
}

// Delays returns the delay of every timer set so far, in order.
func (c *ManualClock) Delays() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.delays...)
}

// Pending returns the number of timers set and not yet fired or stopped.
func (c *ManualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// WaitTimers waits until n timers in total have been set.
func (c *ManualClock) WaitTimers(ctx context.Context, n int) error {
	return waitUntil(ctx, &c.mu, &c.changed, func() bool { return len(c.delays) >= n })
}
