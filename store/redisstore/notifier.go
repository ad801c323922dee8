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
	"github.com/trystgw/tryst/store/wake"
)

var _ rendezvous.Notifier = (*Notifier[rendezvous.ID])(nil)

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

// Notifier is a wake-up notifier spanning instances, for any string key
// type K (a rendezvous.Notifier for K = rendezvous.ID): Notify publishes
// the key on the Redis channel of the notifier's topic, and every
// instance's Notifier of that topic, subscribed to it, wakes its own
// watchers (a wake.Hub does the local fan-out). Each user of the notifier
// (rendezvous sessions, client queues) has its own topic, so their keys
// never meet. Notify wakes local watchers at once and queues the
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
type Notifier[K ~string] struct {
	client  *redis.Client
	channel string
	local   *wake.Hub[K]
	logger  *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returns
	pending chan K
	stopPub chan struct{} // closed by Close to stop publish
	pubDone chan struct{} // closed when publish returns

	mu     sync.Mutex
	ps     *redis.PubSub // the current subscription; guarded by mu
	closed bool          // guarded by mu
}

// TopicRendezvous is the topic of rendezvous sessions' wake-ups.
const TopicRendezvous = "rendezvous"

// TopicQueues is the topic of client queues' wake-ups.
const TopicQueues = "queues"

// NewNotifier returns a Notifier of topic over client and starts its
// subscription to the channel <prefix>wake:<topic>. It waits, at most
// until ctx ends, for the first subscription, so that notifications
// published once it returns are received; if Redis cannot be reached it
// returns anyway, and keeps trying in the background. Close stops it; it
// does not close client.
func NewNotifier[K ~string](ctx context.Context, client *redis.Client, logger *slog.Logger, cfg Config, topic string) *Notifier[K] {
	cfg = cfg.withDefaults()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n := &Notifier[K]{
		client: client, channel: cfg.Prefix + "wake:" + topic, local: wake.NewHub[K](), logger: logger.With("topic", topic),
		cancel: cancel, done: make(chan struct{}),
		pending: make(chan K, publishQueue), stopPub: make(chan struct{}), pubDone: make(chan struct{}),
	}
	ps, err := n.subscribe(ctx)
	go n.run(runCtx, ps, err)
	go n.publish()
	return n
}

// Watch returns a channel closed at the first Notify of key, on any
// instance, after Watch was called, and a function releasing the watch.
// It never blocks.
func (n *Notifier[K]) Watch(key K) (<-chan struct{}, func()) {
	return n.local.Watch(key)
}

// Notify wakes key's watchers on every instance. It wakes local watchers
// and queues the publication for the other instances, returning nil;
// only when the queue is full does it publish itself, and then a failure
// wraps rendezvous.ErrUnavailable.
func (n *Notifier[K]) Notify(ctx context.Context, id K) error {
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
func (n *Notifier[K]) Close() error {
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
func (n *Notifier[K]) publish() {
	defer close(n.pubDone)
	batch := make([]K, 0, publishBatch)
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
func (n *Notifier[K]) flush(ids []K, failing *bool) {
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
		n.logger.Warn("wake-ups not published", "err", err, "dropped", len(ids))
	case err == nil && *failing:
		n.logger.Info("wake-ups published again")
	}
	*failing = err != nil
}

// run keeps the subscription up until Close, starting from ps (nil with
// err when the first attempt failed).
func (n *Notifier[K]) run(ctx context.Context, ps *redis.PubSub, err error) {
	defer close(n.done)
	backoff := time.Duration(0)
	for {
		if err == nil {
			if backoff > 0 {
				n.logger.Info("wake-ups restored")
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
			n.logger.Warn("wake-ups lost", "err", err)
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
func (n *Notifier[K]) subscribe(ctx context.Context) (*redis.PubSub, error) {
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
func (n *Notifier[K]) listen(ctx context.Context, ps *redis.PubSub) error {
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
			n.local.Wake(K(m.Payload))
		case *redis.Subscription:
			// go-redis resubscribed on a new connection by itself:
			// notifications may have been lost meanwhile.
			n.wakeAll()
		}
	}
}

// wakeAll wakes every local watcher.
func (n *Notifier[K]) wakeAll() {
	for _, key := range n.local.Keys() {
		n.local.Wake(key)
	}
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}
