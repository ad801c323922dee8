package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// DispatcherConfig tunes a Dispatcher. Zero fields take the defaults
// documented on each field.
type DispatcherConfig struct {
	// QueueSize bounds, per route, the notifications accepted and not yet
	// finished (queued, in flight, or waiting to retry). Enqueue returns
	// ErrQueueFull beyond it. Default 1024.
	QueueSize int
	// MaxPerRegistration bounds, per route, the unfinished notifications
	// of one Notification.Registration (one device token). Enqueue
	// returns ErrRegistrationBusy beyond it. Default QueueSize/64 (16 of
	// 1024), at least 1: a small share, so a route stays open to others
	// while one registration floods it.
	MaxPerRegistration int
	// Workers is the number of concurrent sends per route, started lazily
	// as the queue needs them. Default 32.
	Workers int
	// AttemptTimeout bounds one provider call. Default 30s.
	AttemptTimeout time.Duration
	// MaxAttempts bounds the provider calls for one notification,
	// retries included. Default 6.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the retry delay: attempt n waits a
	// uniformly random duration in [0, min(MaxBackoff, BaseBackoff·2ⁿ⁻¹)]
	// ("full jitter"), but never less than the provider's Retry-After.
	// Defaults 500ms and 1m.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter: a Retry-After longer than this is not waited for in
	// memory; the notification fails with ClassRetryable so the caller
	// (the outbox) can reschedule it. Default 15m.
	MaxRetryAfter time.Duration
	// BreakerThreshold consecutive credential failures open a route's
	// circuit for BreakerCooldown, doubling on each failed probe up to
	// BreakerMaxCooldown. Defaults 3, 30s, 10m.
	BreakerThreshold   int
	BreakerCooldown    time.Duration
	BreakerMaxCooldown time.Duration

	// OnResult receives exactly one Result for every notification that
	// Enqueue accepted. It runs on the route's worker goroutine (so a slow
	// callback slows only that route) and must not call Close. It may be
	// nil.
	OnResult func(Result)

	// Clock defaults to the system clock.
	Clock Clock
	// Jitter returns a random duration in [0, max]; default uniform.
	// Tests may make it deterministic.
	Jitter func(max time.Duration) time.Duration
}

func (c *DispatcherConfig) withDefaults() DispatcherConfig {
	o := *c
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&o.QueueSize, 1024)
	defInt(&o.MaxPerRegistration, max(o.QueueSize/64, 1))
	defInt(&o.Workers, 32)
	defInt(&o.MaxAttempts, 6)
	defInt(&o.BreakerThreshold, 3)
	def(&o.AttemptTimeout, 30*time.Second)
	def(&o.BaseBackoff, 500*time.Millisecond)
	def(&o.MaxBackoff, time.Minute)
	def(&o.MaxRetryAfter, 15*time.Minute)
	def(&o.BreakerCooldown, 30*time.Second)
	def(&o.BreakerMaxCooldown, 10*time.Minute)
	if o.BreakerMaxCooldown < o.BreakerCooldown {
		o.BreakerMaxCooldown = o.BreakerCooldown
	}
	if o.MaxBackoff < o.BaseBackoff {
		o.MaxBackoff = o.BaseBackoff
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Jitter == nil {
		o.Jitter = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return time.Duration(rand.Int64N(int64(max) + 1))
		}
	}
	return o
}

// abortGrace is how long Close waits, after cancelling them, for sends
// to return.
const abortGrace = 2 * time.Second

// Result is the outcome of one notification accepted by Enqueue.
type Result struct {
	Notification *Notification
	// Route is the route the notification went through.
	Route Route
	// ProviderID is the provider's id for the message (apns-id, FCM
	// message name) when it was delivered.
	ProviderID string
	// Err is nil when the provider accepted the notification, otherwise a
	// *Error; Class and Reason repeat its classification.
	Err    error
	Class  Class
	Reason Reason
	// Attempts is the number of provider calls made (0 if none).
	Attempts int
	// Elapsed is the time from Enqueue to this result.
	Elapsed time.Duration
}

// OK reports whether the provider accepted the notification.
func (r Result) OK() bool { return r.Err == nil }

// TokenDead reports whether the device token is permanently invalid: the
// token service should delete it.
func (r Result) TokenDead() bool { return r.Class == ClassToken }

// Dispatcher delivers notifications through Senders with a bounded queue,
// a lazily started worker pool, retries and a circuit breaker per route.
// See the package documentation.
type Dispatcher struct {
	log     *slog.Logger
	cfg     DispatcherConfig
	lanes   map[Route]*lane     // immutable after NewDispatcher
	latency map[string]*latency // by provider; immutable after NewDispatcher

	mu       sync.RWMutex // excludes Enqueue from the start of Close
	closing  atomic.Bool
	pending  atomic.Int64 // accepted, unfinished, all routes
	drained  chan struct{}
	drainOne sync.Once
	deadline atomic.Pointer[time.Time] // Close's deadline, if any

	abortCtx context.Context // cancelled when Close gives up waiting
	abort    context.CancelFunc
	stopping chan struct{} // closed to stop the workers
	wg       sync.WaitGroup

	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error
	senders   []Sender
}

// NewDispatcher returns a Dispatcher delivering through senders, keyed by
// route. A route with an empty App serves every app of its platform that
// has no route of its own (the log sender is installed that way). Its
// figures are read with Stats. logger may be nil.
func NewDispatcher(logger *slog.Logger, senders map[Route]Sender, cfg DispatcherConfig) (*Dispatcher, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(senders) == 0 {
		return nil, errors.New("push: no senders")
	}
	d := &Dispatcher{
		log:       logger,
		cfg:       cfg.withDefaults(),
		lanes:     make(map[Route]*lane, len(senders)),
		latency:   map[string]*latency{},
		drained:   make(chan struct{}),
		stopping:  make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	d.abortCtx, d.abort = context.WithCancel(context.Background())
	seen := map[Sender]bool{}
	routes := make([]Route, 0, len(senders))
	for r := range senders {
		routes = append(routes, r)
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].String() < routes[j].String() })
	for _, r := range routes {
		s := senders[r]
		if !r.Platform.Valid() {
			return nil, fmt.Errorf("push: route with invalid platform %d", r.Platform)
		}
		if s == nil {
			return nil, fmt.Errorf("push: nil sender for %s", r)
		}
		provider := r.Platform.String()
		if p, ok := s.(interface{ Provider() string }); ok {
			provider = p.Provider()
		}
		if d.latency[provider] == nil {
			d.latency[provider] = &latency{}
		}
		l := &lane{
			d:        d,
			route:    r,
			sender:   s,
			provider: provider,
			ready:    make(chan *item, d.cfg.QueueSize),
			delayed:  map[*item]delayedItem{},
			regs:     map[string]int{},
			m:        newLaneStats(d.latency[provider]),
		}
		l.br = newBreaker(d.cfg.BreakerThreshold, d.cfg.BreakerCooldown, d.cfg.BreakerMaxCooldown, l.breakerChanged)
		d.lanes[r] = l
		if !seen[s] {
			seen[s] = true
			d.senders = append(d.senders, s)
		}
	}
	return d, nil
}

// Routes returns the configured routes, sorted.
func (d *Dispatcher) Routes() []Route {
	rs := make([]Route, 0, len(d.lanes))
	for r := range d.lanes {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].String() < rs[j].String() })
	return rs
}

func (d *Dispatcher) lane(r Route) *lane {
	if l, ok := d.lanes[r]; ok {
		return l
	}
	return d.lanes[Route{Platform: r.Platform}]
}

// Enqueue validates n and queues it on its route. It never blocks: it
// returns ErrQueueFull when the route's queue is full, ErrClosed once
// Close has started, ErrNoRoute for an unconfigured platform/app, a
// ClassCredential *Error wrapping ErrCircuitOpen while the route's circuit
// is open, a ClassPayload/ClassExpired *Error for an invalid notification,
// or ctx's error if ctx is already done. The send does not inherit ctx.
//
// Once Enqueue returned nil, exactly one Result for n reaches OnResult.
// n must not be modified afterwards.
func (d *Dispatcher) Enqueue(ctx context.Context, n *Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := d.cfg.Clock.Now()
	if err := n.Validate(now); err != nil {
		return err
	}
	l := d.lane(n.Route())
	if l == nil {
		return fmt.Errorf("%w: %s/%s", ErrNoRoute, n.Token.Platform(), n.App)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closing.Load() {
		l.m.rejected("closed")
		return ErrClosed
	}
	if l.br.rejecting(now) {
		l.m.rejected(string(ReasonCircuitOpen))
		return l.circuitOpenError()
	}
	if l.pending.Add(1) > int64(d.cfg.QueueSize) {
		l.pending.Add(-1)
		l.m.rejected("queue_full")
		return fmt.Errorf("%w: %s (%d unfinished)", ErrQueueFull, l.route, d.cfg.QueueSize)
	}
	if !l.takeRegistration(n.Registration) {
		l.pending.Add(-1)
		l.m.rejected("registration_busy")
		return fmt.Errorf("%w: %s (%d unfinished)", ErrRegistrationBusy, l.route, d.cfg.MaxPerRegistration)
	}
	d.pending.Add(1)
	l.ready <- &item{n: n, enqueued: now} // never blocks: cap(ready) == QueueSize
	// Start a worker (up to Workers) whenever queued notifications
	// outnumber idle workers; an idle worker may be about to take another
	// item, so "no idle worker" alone would start too few.
	if int(l.idle.Load()) < len(l.ready) {
		l.spawn()
	}
	return nil
}

// Pending returns the number of accepted, unfinished notifications.
func (d *Dispatcher) Pending() int { return int(d.pending.Load()) }

// Close stops accepting notifications and drains: it waits until every
// accepted notification has a Result or ctx is done. Retries due after
// ctx's deadline are abandoned at once. When ctx ends first, in-flight
// sends are cancelled and every unfinished notification gets a
// ClassShutdown Result; Close then returns an error wrapping ctx.Err().
// A Sender that ignores cancellation gets two more seconds before Close
// returns without it (its Result then arrives late). Senders implementing
// io.Closer are closed last. Close is idempotent;
// later calls wait for the first to finish and return its error.
func (d *Dispatcher) Close(ctx context.Context) error {
	first := false
	d.closeOnce.Do(func() { first = true })
	if !first {
		select {
		case <-d.closeDone:
			return d.closeErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(d.closeDone)

	d.mu.Lock()
	d.closing.Store(true)
	d.mu.Unlock()
	if d.pending.Load() == 0 {
		d.markDrained()
	}
	d.drain(ctx)
	close(d.stopping)
	d.waitWorkers(ctx)
	d.abort()
	for _, s := range d.senders {
		if c, ok := s.(io.Closer); ok {
			if err := c.Close(); err != nil {
				d.log.Warn("push: closing sender", "err", err)
			}
		}
	}
	return d.closeErr
}

// drain waits until every accepted notification has a Result, abandoning
// at once the retries due after ctx's deadline; when ctx ends first, it
// cancels the sends and abandons every delayed retry.
func (d *Dispatcher) drain(ctx context.Context) {
	if dl, ok := ctx.Deadline(); ok {
		d.deadline.Store(&dl)
		for _, l := range d.lanes {
			l.abandonDelayed(func(due time.Time) bool { return due.After(dl) })
		}
	}
	select {
	case <-d.drained:
	case <-ctx.Done():
		left := d.pending.Load()
		d.abort()
		for _, l := range d.lanes {
			l.abandonDelayed(func(time.Time) bool { return true })
		}
		d.closeErr = fmt.Errorf("push: close: %d notifications unfinished: %w", left, ctx.Err())
		d.log.Warn("push: dispatcher drain deadline hit, abandoning unfinished notifications", "unfinished", left)
	}
}

// waitWorkers waits for the workers to return; once ctx ends it cancels
// the sends and gives the Senders abortGrace more.
func (d *Dispatcher) waitWorkers(ctx context.Context) {
	workersDone := make(chan struct{})
	go func() { d.wg.Wait(); close(workersDone) }()
	select {
	case <-workersDone:
	case <-ctx.Done():
		// Sends were cancelled (by drain, or now): give Senders a moment
		// to return, but do not hang on one that ignores its context.
		d.abort()
		t := time.NewTimer(abortGrace)
		defer t.Stop()
		select {
		case <-workersDone:
		case <-t.C:
			d.log.Error("push: a sender ignores cancellation; Close returns with sends still running", "grace", abortGrace)
			if d.closeErr == nil {
				d.closeErr = fmt.Errorf("push: close: sends still running: %w", ctx.Err())
			}
		}
	}
}

func (d *Dispatcher) markDrained() { d.drainOne.Do(func() { close(d.drained) }) }

type item struct {
	n        *Notification
	enqueued time.Time
	attempts int
	lastErr  *Error
}

type delayedItem struct {
	due  time.Time
	stop func() bool
}

// lane is the queue, workers, breaker and metrics of one route.
type lane struct {
	d        *Dispatcher
	route    Route
	sender   Sender
	provider string
	br       *breaker
	m        *laneStats

	ready   chan *item
	pending atomic.Int64
	running atomic.Int32
	idle    atomic.Int32

	mu      sync.Mutex // guards delayed, aborted
	delayed map[*item]delayedItem
	aborted bool

	regsMu sync.Mutex
	regs   map[string]int // guarded by regsMu; unfinished per Registration, only those above 0
}

// takeRegistration counts one more unfinished notification for reg,
// unless reg is at MaxPerRegistration. The empty registration is not
// counted.
func (l *lane) takeRegistration(reg string) bool {
	if reg == "" {
		return true
	}
	l.regsMu.Lock()
	defer l.regsMu.Unlock()
	if l.regs[reg] >= l.d.cfg.MaxPerRegistration {
		return false
	}
	l.regs[reg]++
	return true
}

// releaseRegistration undoes one takeRegistration(reg).
func (l *lane) releaseRegistration(reg string) {
	if reg == "" {
		return
	}
	l.regsMu.Lock()
	defer l.regsMu.Unlock()
	if n := l.regs[reg] - 1; n > 0 {
		l.regs[reg] = n
	} else {
		delete(l.regs, reg)
	}
}

func (l *lane) circuitOpenError() *Error {
	return &Error{Class: ClassCredential, Reason: ReasonCircuitOpen, Provider: l.provider, Err: ErrCircuitOpen}
}

func (l *lane) spawn() {
	for {
		r := l.running.Load()
		if int(r) >= l.d.cfg.Workers {
			return
		}
		if l.running.CompareAndSwap(r, r+1) {
			l.d.wg.Add(1)
			go l.work()
			return
		}
	}
}

func (l *lane) work() {
	defer l.d.wg.Done()
	for {
		l.idle.Add(1)
		select {
		case it := <-l.ready:
			l.idle.Add(-1)
			l.process(it)
		case <-l.d.stopping:
			l.idle.Add(-1)
			for {
				select {
				case it := <-l.ready:
					l.finish(it, "", shutdownError(it.lastErr))
				default:
					return
				}
			}
		}
	}
}

func (l *lane) process(it *item) {
	d := l.d
	if d.abortCtx.Err() != nil {
		l.finish(it, "", shutdownError(it.lastErr))
		return
	}
	now := d.cfg.Clock.Now()
	if exp := it.n.Expiration; !exp.IsZero() && !now.Before(exp) {
		l.finish(it, "", expiredError(it.lastErr))
		return
	}
	if !l.br.allow(now) {
		l.finish(it, "", l.circuitOpenError())
		return
	}
	it.attempts++
	ctx, cancel := context.WithTimeout(d.abortCtx, d.cfg.AttemptTimeout)
	start := time.Now()
	id, err := l.sender.Send(ctx, it.n)
	l.m.latency.observe(time.Since(start))
	cancel()
	if err == nil {
		l.br.report(now, outcomeOK)
		l.finish(it, id, nil)
		return
	}
	e := classify(l.provider, err)
	if d.abortCtx.Err() != nil && e.Class == ClassRetryable || e.Class == ClassShutdown {
		l.br.report(now, outcomeNeutral)
		l.finish(it, "", shutdownError(e))
		return
	}
	switch e.Class {
	case ClassCredential:
		l.br.report(d.cfg.Clock.Now(), outcomeCredFail)
		l.finish(it, "", e)
	case ClassRetryable:
		l.br.report(now, outcomeNeutral)
		it.lastErr = e
		l.retry(it, e)
	default: // token, payload, expired: the credentials worked
		l.br.report(now, outcomeOK)
		l.finish(it, "", e)
	}
}

func (l *lane) retry(it *item, e *Error) {
	d := l.d
	if it.attempts >= d.cfg.MaxAttempts || e.RetryAfter > d.cfg.MaxRetryAfter {
		l.finish(it, "", e)
		return
	}
	delay := d.backoff(it.attempts, e.RetryAfter)
	now := d.cfg.Clock.Now()
	due := now.Add(delay)
	if exp := it.n.Expiration; !exp.IsZero() && !due.Before(exp) {
		l.finish(it, "", expiredError(e))
		return
	}
	l.mu.Lock()
	// No retry while Close aborts, nor one due after Close's deadline:
	// it would only be abandoned later.
	dl := d.deadline.Load()
	if l.aborted || d.abortCtx.Err() != nil || dl != nil && due.After(*dl) {
		l.mu.Unlock()
		l.finish(it, "", shutdownError(e))
		return
	}
	l.m.retries.Add(1)
	stop := d.cfg.Clock.AfterFunc(delay, func() { l.fire(it) })
	l.delayed[it] = delayedItem{due: due, stop: stop}
	l.mu.Unlock()
}

// fire moves a delayed item back to the ready queue.
func (l *lane) fire(it *item) {
	l.mu.Lock()
	if _, ok := l.delayed[it]; !ok {
		l.mu.Unlock()
		return
	}
	delete(l.delayed, it)
	l.ready <- it // never blocks: it is counted in pending
	if l.idle.Load() == 0 {
		l.spawn()
	}
	l.mu.Unlock()
}

// abandonDelayed finishes, as shutdown, the delayed items whose due time
// satisfies drop. It is used by Close.
func (l *lane) abandonDelayed(drop func(due time.Time) bool) {
	var gone []*item
	l.mu.Lock()
	if l.d.abortCtx.Err() != nil {
		l.aborted = true
	}
	for it, di := range l.delayed {
		if drop(di.due) {
			di.stop()
			delete(l.delayed, it)
			gone = append(gone, it)
		}
	}
	l.mu.Unlock()
	for _, it := range gone {
		l.finish(it, "", shutdownError(it.lastErr))
	}
}

func (l *lane) finish(it *item, id string, e *Error) {
	d := l.d
	res := Result{
		Notification: it.n,
		Route:        l.route,
		ProviderID:   id,
		Attempts:     it.attempts,
		Elapsed:      d.cfg.Clock.Now().Sub(it.enqueued),
	}
	if e == nil {
		l.m.sent.Add(1)
	} else {
		res.Err, res.Class, res.Reason = e, e.Class, e.Reason
		l.m.failed(e.Reason)
		lvl := slog.LevelDebug
		if e.Class == ClassCredential && e.Reason != ReasonCircuitOpen {
			lvl = slog.LevelWarn
		}
		if d.log.Enabled(context.Background(), lvl) {
			d.log.Log(context.Background(), lvl, "push: notification failed", "route", l.route.String(),
				"id", it.n.ID, "token", it.n.Token.Redacted(), "class", e.Class.String(),
				"reason", string(e.Reason), "attempts", it.attempts, "err", e.Error())
		}
	}
	if cb := d.cfg.OnResult; cb != nil {
		l.callback(cb, res)
	}
	l.releaseRegistration(it.n.Registration)
	l.pending.Add(-1)
	if d.pending.Add(-1) == 0 && d.closing.Load() {
		d.markDrained()
	}
}

func (l *lane) callback(cb func(Result), res Result) {
	defer func() {
		if r := recover(); r != nil {
			l.d.log.Error("push: OnResult panicked", "route", l.route.String(), "panic", fmt.Sprint(r))
		}
	}()
	cb(res)
}

func (l *lane) breakerChanged(open bool, cooldown time.Duration) {
	if open {
		l.m.circuit.Store(true)
		l.d.log.Error("push: credentials rejected, circuit open", "route", l.route.String(), "cooldown", cooldown)
	} else {
		l.m.circuit.Store(false)
		l.d.log.Info("push: credentials accepted again, circuit closed", "route", l.route.String())
	}
}

// backoff returns the delay before retry number attempt (1-based count of
// calls made so far): full jitter over an exponential cap, at least
// retryAfter.
func (d *Dispatcher) backoff(attempt int, retryAfter time.Duration) time.Duration {
	ceil := d.cfg.MaxBackoff
	if shift := attempt - 1; shift < 32 {
		if c := d.cfg.BaseBackoff << shift; c > 0 && c < ceil {
			ceil = c
		}
	}
	delay := d.cfg.Jitter(ceil)
	if delay < retryAfter {
		delay = retryAfter
	}
	return delay
}

func classify(provider string, err error) *Error {
	if e, ok := AsError(err); ok {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return ContextError(provider, err)
	}
	return &Error{Class: ClassOf(err), Reason: ReasonOf(err), Provider: provider, Err: err}
}

func shutdownError(last *Error) *Error {
	return endedError(ClassShutdown, ReasonShutdown, ErrShutdown, last)
}

func expiredError(last *Error) *Error {
	return endedError(ClassExpired, ReasonNotificationExpired, ErrExpired, last)
}

// endedError is the result of a notification the dispatcher gave up on
// for its own reason (sentinel), keeping the last provider failure, if
// any, for the operator.
func endedError(class Class, reason Reason, sentinel error, last *Error) *Error {
	e := &Error{Class: class, Reason: reason, Err: sentinel}
	if last != nil {
		e.Provider = last.Provider
		e.Message = "last attempt: " + last.Error()
	}
	return e
}
