package pushtest

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// changeSignal wakes the waiters of a fake when its state changes. Its
// methods are called with the fake's mutex held. The channel is made only
// when someone waits, so recording stays allocation-free in benchmarks.
type changeSignal struct{ ch chan struct{} }

// next returns a channel closed at the next notify.
func (s *changeSignal) next() <-chan struct{} {
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// notify wakes every waiter.
func (s *changeSignal) notify() {
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// waitUntil evaluates ok under mu until it holds, sleeping between
// evaluations until changed is notified. It returns ctx's error if ctx
// ends first.
func waitUntil(ctx context.Context, mu *sync.Mutex, changed *changeSignal, ok func() bool) error {
	for {
		mu.Lock()
		done, next := ok(), changed.next()
		mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Reasons recorded for requests a fake did not answer.
const (
	reasonClientGaveUp = "client gave up"
	reasonFakeClosed   = "fake closed"
	reasonDropped      = "dropped"
)

// holdBack applies a scripted answer's Delay and Hang: it returns once the
// answer may be sent (""), or the reason the request ended unanswered.
func holdBack(r *http.Request, delay time.Duration, hang bool, done <-chan struct{}) string {
	if delay <= 0 && !hang {
		return ""
	}
	var timeout <-chan time.Time
	if !hang {
		t := time.NewTimer(delay)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return ""
	case <-r.Context().Done():
		return reasonClientGaveUp
	case <-done:
		return reasonFakeClosed
	}
}

// dropConnection closes the request's TCP connection and aborts the
// handler, so the client sees the connection break mid-request.
func dropConnection(r *http.Request) {
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		c.Close()
	}
	panic(http.ErrAbortHandler)
}
