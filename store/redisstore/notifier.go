package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/rendezvous"
	"github.com/trystgw/tryst/store/memstore"
)

var _ rendezvous.Notifier = (*Notifier)(nil)

// Timing of the notifier's subscription.
const (
	// probeAfter is how long a silent subscription waits before it pings
	// Redis; a ping left unanswered as long again replaces the connection.
	probeAfter = 5 * time.Second
	// Resubscription backs off from minBackoff to maxBackoff while Redis is
	// unreachable, so service resumes within about a second of its return.
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
	// publishQueue bounds the notifications waiting to be published; when
	// it is full, Notify publishes by itself rather than drop one.
	publishQueue = 4096
	// publishBatch bounds the notifications sent in one pipeline.
	publishBatch = 256
)

// Notifier is a rendezvous.Notifier spanning instances: Notify publishes
// the session's ID on one Redis channel, and every instance's Notifier,
// subscribed to it, wakes its own watchers (a memstore.Notifier does the
// local fan-out). Notify wakes local watchers at once and queues the
// publication: a background goroutine publishes in order, pipelining what
// has queued up, so a write does not wait for a second round trip. A
// notification that cannot be published (Redis unreachable) is logged and
// dropped; the waiters it would have woken re-read their session when
// their wait ends.
//
// The subscription survives Redis restarts and network faults: it is
// re-established with backoff, and once it is back every local watcher is
// woken, because notifications published in between were lost; waiters
// re-read their session and wait again if it did not change.
//
// It is safe for concurrent use. Close stops it.
type Notifier struct {
	client  *redis.Client
	channel string
	local   *memstore.Notifier
	logger  *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returns
	pending chan rendezvous.ID
	stopPub chan struct{} // closed by Close to stop publish
	pubDone chan struct{} // closed when publish returns

	mu      sync.Mutex
	watched map[rendezvous.ID]int // watches per session; guarded by mu
	ps      *redis.PubSub         // the current subscription; guarded by mu
	closed  bool                  // guarded by mu
}

// NewNotifier returns a Notifier over client and starts its subscription.
// It waits, at most until ctx ends, for the first subscription, so that
// notifications published once it returns are received; if Redis cannot
// be reached it returns anyway, and keeps trying in the background. Close
// stops it; it does not close client.
func NewNotifier(ctx context.Context, client *redis.Client, logger *slog.Logger, cfg Config) *Notifier {
	cfg = cfg.withDefaults()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n := &Notifier{
		client: client, channel: cfg.Prefix + "wake", local: memstore.NewNotifier(), logger: logger,
		cancel: cancel, done: make(chan struct{}), watched: make(map[rendezvous.ID]int),
		pending: make(chan rendezvous.ID, publishQueue), stopPub: make(chan struct{}), pubDone: make(chan struct{}),
	}
	ps, err := n.subscribe(ctx)
	go n.run(runCtx, ps, err)
	go n.publish()
	return n
}

// Watch implements rendezvous.Notifier.
func (n *Notifier) Watch(id rendezvous.ID) (<-chan struct{}, func()) {
	ch, stop := n.local.Watch(id)
	n.mu.Lock()
	n.watched[id]++
	n.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			stop()
			n.mu.Lock()
			defer n.mu.Unlock()
			if n.watched[id]--; n.watched[id] == 0 {
				delete(n.watched, id)
			}
		})
	}
}

// Notify implements rendezvous.Notifier. It wakes local watchers and
// queues the publication for the other instances, returning nil; only
// when the queue is full does it publish itself, and then a failure wraps
// rendezvous.ErrUnavailable.
func (n *Notifier) Notify(ctx context.Context, id rendezvous.ID) error {
	n.local.Wake(id)
	select {
	case n.pending <- id:
		return nil
	default:
	}
	if err := n.client.Publish(ctx, n.channel, string(id)).Err(); err != nil {
		return transportError(ctx, "notify", err)
	}
	return nil
}

// Close publishes what is queued, stops the subscription, and waits for
// the notifier's goroutines to return. Watchers are not woken; their
// waits end by their own timeouts.
func (n *Notifier) Close() error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.stopPub)
		n.cancel()
		if n.ps != nil {
			n.ps.Close()
		}
	}
	n.mu.Unlock()
	<-n.pubDone
	<-n.done
	return nil
}

// publish sends queued notifications until Close, then what is left.
func (n *Notifier) publish() {
	defer close(n.pubDone)
	batch := make([]rendezvous.ID, 0, publishBatch)
	failing := false
	for {
		select {
		case id := <-n.pending:
			batch = append(batch, id)
		case <-n.stopPub:
			for len(n.pending) > 0 {
				batch = append(batch, <-n.pending)
			}
			n.flush(batch, &failing)
			return
		}
		for len(batch) < publishBatch && len(n.pending) > 0 {
			batch = append(batch, <-n.pending)
		}
		n.flush(batch, &failing)
		batch = batch[:0]
	}
}

// flush publishes ids in one pipeline. failing, owned by publish, keeps
// an outage to one log line.
func (n *Notifier) flush(ids []rendezvous.ID, failing *bool) {
	if len(ids) == 0 {
		return
	}
	ctx := context.Background() // bounded by the client's timeouts
	_, err := n.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.Publish(ctx, n.channel, string(id))
		}
		return nil
	})
	switch {
	case err != nil && !*failing:
		n.logger.Warn("rendezvous wake-ups not published", "err", err, "dropped", len(ids))
	case err == nil && *failing:
		n.logger.Info("rendezvous wake-ups published again")
	}
	*failing = err != nil
}

// run keeps the subscription up until Close, starting from ps (nil with
// err when the first attempt failed).
func (n *Notifier) run(ctx context.Context, ps *redis.PubSub, err error) {
	defer close(n.done)
	backoff := time.Duration(0)
	for {
		if err == nil {
			if backoff > 0 {
				n.logger.Info("rendezvous wake-ups restored")
				n.wakeAll()
			}
			backoff = 0
			err = n.listen(ctx, ps)
		}
		if ps != nil {
			ps.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if backoff == 0 {
			n.logger.Warn("rendezvous wake-ups lost", "err", err)
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		ps, err = n.subscribe(ctx)
	}
}

// subscribe opens a subscription to the channel and waits for Redis to
// confirm it. The subscription is recorded for Close.
func (n *Notifier) subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := n.client.Subscribe(ctx) // no channel yet: does not connect
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		ps.Close()
		return nil, redis.ErrClosed
	}
	n.ps = ps
	n.mu.Unlock()
	if err := ps.Subscribe(ctx, n.channel); err != nil {
		return ps, err
	}
	if _, err := ps.ReceiveTimeout(ctx, probeAfter); err != nil {
		return ps, err
	}
	return ps, nil
}

// listen wakes local watchers for each message until the subscription
// fails. A silent subscription is probed with a ping.
func (n *Notifier) listen(ctx context.Context, ps *redis.PubSub) error {
	probing := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, probeAfter)
		if err != nil {
			if !probing && isTimeout(err) {
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				probing = true
				continue
			}
			return err
		}
		probing = false
		switch m := msg.(type) {
		case *redis.Message:
			n.local.Wake(rendezvous.ID(m.Payload))
		case *redis.Subscription:
			// go-redis resubscribed on a new connection by itself:
			// notifications may have been lost meanwhile.
			n.wakeAll()
		}
	}
}

// wakeAll wakes every local watcher.
func (n *Notifier) wakeAll() {
	n.mu.Lock()
	ids := make([]rendezvous.ID, 0, len(n.watched))
	for id := range n.watched {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	for _, id := range ids {
		n.local.Wake(id)
	}
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}
