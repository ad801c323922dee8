package pushtest

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/trystgw/tryst/push"
)

// Attempt is one call to a Recorder.
type Attempt struct {
	At           time.Time
	Notification *push.Notification
	Err          error
}

// Recorder is a fake push.Sender that records every call and answers as
// scripted per device token (success by default). It is safe for
// concurrent use.
type Recorder struct {
	provider string
	mu       sync.Mutex
	scripts  map[string][]error
	hook     func(ctx context.Context, n *push.Notification) error
	attempts []Attempt
	changed  changeSignal
	seq      int
}

// NewRecorder returns a Recorder reporting provider as its metrics label
// ("" keeps the platform name).
func NewRecorder(provider string) *Recorder {
	return &Recorder{provider: provider, scripts: map[string][]error{}}
}

// Provider implements the optional provider-name interface of push.Sender.
func (r *Recorder) Provider() string {
	if r.provider == "" {
		return "recorder"
	}
	return r.provider
}

// Script queues results for a device token: each call takes the next
// (nil is success); afterwards calls succeed.
func (r *Recorder) Script(token string, errs ...error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scripts[token] = append(r.scripts[token], errs...)
}

// SetHook installs a function run at the start of every Send (before the
// script); a non-nil error it returns is the call's result. Use it to
// block, delay or count.
func (r *Recorder) SetHook(h func(ctx context.Context, n *push.Notification) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hook = h
}

// Send implements push.Sender.
func (r *Recorder) Send(ctx context.Context, n *push.Notification) (string, error) {
	r.mu.Lock()
	hook := r.hook
	r.mu.Unlock()
	var err error
	if hook != nil {
		err = hook(ctx, n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		err, _ = popScript(r.scripts, n.Token.String())
	}
	r.attempts = append(r.attempts, Attempt{At: time.Now(), Notification: n, Err: err})
	r.changed.notify()
	if err != nil {
		return "", err
	}
	r.seq++
	return "rec-" + strconv.Itoa(r.seq), nil
}

// Attempts returns every call so far.
func (r *Recorder) Attempts() []Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Attempt(nil), r.attempts...)
}

// AttemptsFor returns the calls for one device token.
func (r *Recorder) AttemptsFor(token string) []Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return matching(r.attempts, func(a Attempt) bool { return a.Notification.Token.String() == token })
}

// Sent returns the notifications whose call succeeded.
func (r *Recorder) Sent() []*push.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*push.Notification
	for _, a := range r.attempts {
		if a.Err == nil {
			out = append(out, a.Notification)
		}
	}
	return out
}

// Wait waits until cond holds for the calls so far.
func (r *Recorder) Wait(ctx context.Context, cond func([]Attempt) bool) error {
	return waitUntil(ctx, &r.mu, &r.changed, func() bool { return cond(r.attempts) })
}
