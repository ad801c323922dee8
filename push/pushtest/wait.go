package pushtest

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// waitUntil reads state under mu until it reports ok, sleeping between
// reads on the channel state returns, which is closed when state may have
// changed. It returns ctx's error if ctx ends first.
func waitUntil(ctx context.Context, mu *sync.Mutex, state func() (ok bool, changed <-chan struct{})) error {
	for {
		mu.Lock()
		ok, changed := state()
		mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
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
