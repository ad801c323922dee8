package push

import (
	"sync"
	"time"
)

type breakerState uint8

const (
	breakerClosed breakerState = iota
	breakerOpen
	breakerHalfOpen
)

type outcome uint8

const (
	outcomeOK       outcome = iota // the provider accepted our credentials
	outcomeCredFail                // the provider rejected our credentials
	outcomeNeutral                 // no verdict (network, rate limit, ...)
)

// breaker is a per-route circuit breaker on credential failures. After
// threshold consecutive credential failures it opens for cooldown; then one
// probe is let through (half-open): success closes it, another credential
// failure re-opens it with the cooldown doubled up to maxCooldown.
type breaker struct {
	threshold int
	base, max time.Duration
	onChange  func(open bool, cooldown time.Duration)
	mu        sync.Mutex
	state     breakerState
	fails     int
	until     time.Time
	cooldown  time.Duration
	probing   bool
}

func newBreaker(threshold int, base, max time.Duration, onChange func(bool, time.Duration)) *breaker {
	return &breaker{threshold: threshold, base: base, max: max, cooldown: base, onChange: onChange}
}

// rejecting reports whether the breaker is open (not yet due for a probe):
// Enqueue refuses new notifications then.
func (b *breaker) rejecting(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state == breakerOpen && now.Before(b.until)
}

// allow reports whether a send may go out now. In half-open state only one
// probe at a time is allowed; its outcome must be reported.
func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerClosed:
		return true
	case breakerOpen:
		if now.Before(b.until) {
			return false
		}
		b.state = breakerHalfOpen
		b.probing = true
		return true
	default: // half-open
		if b.probing {
			return false
		}
		b.probing = true
		return true
	}
}

func (b *breaker) report(now time.Time, o outcome) {
	b.mu.Lock()
	var changed, open bool
	var cooldown time.Duration
	switch b.state {
	case breakerClosed:
		switch o {
		case outcomeOK:
			b.fails = 0
		case outcomeCredFail:
			b.fails++
			if b.fails >= b.threshold {
				b.state, b.until = breakerOpen, now.Add(b.cooldown)
				changed, open, cooldown = true, true, b.cooldown
			}
		}
	case breakerHalfOpen:
		switch o {
		case outcomeOK:
			b.state, b.fails, b.cooldown, b.probing = breakerClosed, 0, b.base, false
			changed = true
		case outcomeCredFail:
			b.cooldown = min(2*b.cooldown, b.max)
			b.state, b.until, b.probing = breakerOpen, now.Add(b.cooldown), false
			changed, open, cooldown = true, true, b.cooldown
		default:
			b.probing = false
		}
	case breakerOpen:
		// Late results of sends that started before the breaker opened
		// carry no new information.
	}
	b.mu.Unlock()
	if changed && b.onChange != nil {
		b.onChange(open, cooldown)
	}
}
