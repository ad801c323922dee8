package ntf

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trystgw/tryst/smpclient"
)

// Supervisor defaults.
const (
	// DefaultMinBackoff and DefaultMaxBackoff bound the reconnect delay,
	// which doubles per failed attempt with jitter (the reference waits
	// 1 s growing to 10 s; jitter keeps many instances from reconnecting
	// in lock-step).
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 10 * time.Second
	// DefaultBatchWindow is how long new queues gather before one NSUB
	// batch: an app registering several queues costs one round trip.
	DefaultBatchWindow = 50 * time.Millisecond
	// DefaultDialTimeout is the reference notifier's connect timeout.
	DefaultDialTimeout = 45 * time.Second
	// DefaultSubscribeTimeout bounds one NSUB batch (the reference allows
	// 30 s for background commands); large batches get it per chunk.
	DefaultSubscribeTimeout = 30 * time.Second
	// DefaultSubscribeChunk is how many NSUBs one Subscribe call sends:
	// enough to keep the connection full, few enough that statuses are
	// written as the confirmations come.
	DefaultSubscribeChunk = 10000
	// DefaultSweepGrace keeps the outbox's sweep off notifications whose
	// push is being made; a restart's first sweep takes them at once.
	DefaultSweepGrace = 5 * time.Second
	// loadPage is how many stored queues one start-up query reads.
	loadPage = 10000
	// eventBatch bounds the events written in one store transaction.
	eventBatch = 512
	// eventWriters write batches concurrently, so a commit's wait for the
	// disk overlaps the next batch (a notification older than the stored
	// one of its queue never replaces it, whichever commits first).
	eventWriters = 4
)

// SupervisorConfig tunes a Supervisor. Zero fields take the defaults.
type SupervisorConfig struct {
	// SMP configures the connections.
	SMP smpclient.Config
	// Owns restricts the supervisor to the servers it owns (by their
	// ServerText); nil owns every server. Queues of other servers are
	// neither loaded nor subscribed.
	Owns func(server string) bool
	// LoadOnAcquire skips loading every stored queue at start: an
	// Ownership loads each server's queues when it acquires the server.
	LoadOnAcquire          bool
	MinBackoff, MaxBackoff time.Duration
	BatchWindow            time.Duration
	DialTimeout            time.Duration
	SubscribeTimeout       time.Duration
	SubscribeChunk         int
	// SweepGrace is how long a new notification is left to the sink
	// before the outbox's sweep may take it too (a kick lost to a full
	// queue, a crash); default DefaultSweepGrace.
	SweepGrace time.Duration
	// Now stamps received notifications; default time.Now.
	Now func() time.Time
}

func (c SupervisorConfig) withDefaults() SupervisorConfig {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MinBackoff, DefaultMinBackoff)
	def(&c.MaxBackoff, DefaultMaxBackoff)
	def(&c.BatchWindow, DefaultBatchWindow)
	def(&c.DialTimeout, DefaultDialTimeout)
	def(&c.SubscribeTimeout, DefaultSubscribeTimeout)
	def(&c.SweepGrace, DefaultSweepGrace)
	if c.SubscribeChunk <= 0 {
		c.SubscribeChunk = DefaultSubscribeChunk
	}
	if c.SMP.TLSMemo == nil {
		// Servers with Ed448 certificates are dialled with smpclient/tls13
		// straight away once one dial found out, not after a refused
		// crypto/tls handshake on every reconnect.
		c.SMP.TLSMemo = smpclient.NewTLSMemo()
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Owns == nil {
		c.Owns = func(string) bool { return true }
	}
	return c
}

// NotificationSink takes the tokens that have new notifications in the
// outbox; *Outbox is one.
type NotificationSink interface {
	Kick(token TokenID)
}

// Supervisor holds the SMP subscriptions of every watched queue: one
// connection per SMP server, opened when a queue needs it and closed
// when none does; new queues subscribed in batches; reconnection with
// exponential backoff and jitter, then resubscription of the server's
// queues; statuses written to the store. Each NMSG is written to the
// outbox before anything else happens with it. END and DELD count only
// from the connection that holds the queue, and ended, deleted and
// refused queues are never subscribed again by the supervisor.
//
// Events are taken off every connection at once into a queue in memory,
// written to the store by one goroutine in batches, so a slow database
// never stalls a connection into a keepalive timeout.
type Supervisor struct {
	store  SubscriptionStore
	sealer Sealer
	sink   NotificationSink
	log    *slog.Logger
	cfg    SupervisorConfig

	mu      sync.Mutex
	servers map[string]*smpServer // guarded by mu; by ServerText
	done    chan struct{}         // closed when Run ends
	quit    chan struct{}         // closed when Run starts stopping
	running bool                  // guarded by mu; Run is serving: watched servers get a goroutine
	loaded  bool                  // guarded by mu; Run has loaded the stored queues
	wg      sync.WaitGroup        // server goroutines

	events eventQueue
	seq    atomic.Int64 // last notification Seq handed out
	stats  supervisorCounters
}

// NewSupervisor returns a Supervisor over store. Stored notifier keys are
// opened with sealer; tokens with new notifications are handed to sink.
func NewSupervisor(store SubscriptionStore, sealer Sealer, sink NotificationSink, logger *slog.Logger, cfg SupervisorConfig) *Supervisor {
	return &Supervisor{
		store: store, sealer: sealer, sink: sink, log: logger, cfg: cfg.withDefaults(),
		servers: map[string]*smpServer{}, done: make(chan struct{}), quit: make(chan struct{}), events: newEventQueue(),
	}
}

// Run loads the stored queues that are not final, subscribing them as
// they load, and serves until ctx ends; then it closes every connection,
// writes the events already received, and returns nil. If the start-up
// load fails it stops the same way and returns the error. Run must be
// called once.
func (s *Supervisor) Run(ctx context.Context) error {
	defer close(s.done)
	var writers sync.WaitGroup
	for range eventWriters {
		writers.Go(s.writeEvents)
	}
	s.mu.Lock()
	s.running = true // servers start as their first queues load
	for _, srv := range s.servers {
		s.start(srv) // watched before Run
	}
	s.mu.Unlock()
	var err error
	if !s.cfg.LoadOnAcquire {
		err = s.load(ctx)
	}
	if err == nil {
		s.mu.Lock()
		s.loaded = true
		s.mu.Unlock()
		<-ctx.Done()
	}
	close(s.quit)
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
	s.stopServers()
	s.wg.Wait()
	s.events.close()
	writers.Wait()
	return err
}

// Ready reports whether Run has loaded the stored queues.
func (s *Supervisor) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loaded
}

// load reads every stored queue that is not final, opening the keys on
// every core.
func (s *Supervisor) load(ctx context.Context) error {
	var after QueueRef
	for {
		page, err := s.store.LoadQueues(ctx, after, loadPage)
		if err != nil {
			return err
		}
		s.Watch(s.openKeys(page))
		if len(page) < loadPage {
			return nil
		}
		after = page[len(page)-1].QueueRef
	}
}

// openKeys turns stored queues into watched ones; a queue whose key or
// address does not open is logged and left out.
func (s *Supervisor) openKeys(page []Queue) []WatchedQueue {
	out := make([]WatchedQueue, len(page))
	ok := make([]bool, len(page))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(page); i += workers {
				out[i], ok[i] = s.openQueue(page[i])
			}
		})
	}
	wg.Wait()
	kept := out[:0]
	for i := range out {
		if ok[i] {
			kept = append(kept, out[i])
		}
	}
	return kept
}

func (s *Supervisor) openQueue(q Queue) (WatchedQueue, bool) {
	if !s.cfg.Owns(q.Server) {
		return WatchedQueue{}, false
	}
	addr, err := smpclient.ParseServerAddress(q.Server)
	if err == nil {
		var key *smpclient.PrivateKey
		if key, err = openKey(s.sealer, q.QueueRef, q.KeySealed); err == nil {
			return WatchedQueue{Ref: q.QueueRef, Addr: addr, Key: key, Active: q.Status == QueueActive}, true
		}
	}
	s.log.Error("stored queue cannot be subscribed", "queue", q.QueueRef.String(), "err", err)
	return WatchedQueue{}, false
}

// Watch implements Watcher: the queues join their servers' sets and are
// subscribed in the next batch. Queues of servers the supervisor does
// not own are ignored.
func (s *Supervisor) Watch(qs []WatchedQueue) { s.watch(qs, false) }

// watch adds the owned queues of qs; with adopt, queues watched already
// are left as they are.
func (s *Supervisor) watch(qs []WatchedQueue, adopt bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	touched := map[*smpServer]bool{}
	for _, q := range qs {
		if !s.cfg.Owns(q.Ref.Server) {
			continue
		}
		srv := s.servers[q.Ref.Server]
		if adopt && srv != nil && srv.watches(q.Ref.NotifierID) {
			continue
		}
		if srv == nil {
			srv = newSMPServer(q.Ref.Server, q.Addr)
			s.servers[q.Ref.Server] = srv
		}
		srv.add(q)
		touched[srv] = true
	}
	for srv := range touched {
		if s.running && !srv.started {
			s.start(srv)
		}
		srv.wake()
	}
}

// Forget implements Watcher. A server left with no queue closes its
// connection.
func (s *Supervisor) Forget(refs []QueueRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range refs {
		if srv := s.servers[r.Server]; srv != nil {
			srv.remove(r.NotifierID)
			srv.wake()
		}
	}
}

// start runs srv's connection goroutine. Callers hold s.mu.
func (s *Supervisor) start(srv *smpServer) {
	srv.started = true
	s.wg.Go(func() {
		defer close(srv.ended)
		s.serve(srv)
	})
}

// stopServers makes every server goroutine close its connection and end.
func (s *Supervisor) stopServers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.servers {
		srv.stop()
	}
}

// retire ends srv's goroutine if srv has no queue left (removing it from
// the set) or the supervisor is stopping. It reports whether to end.
func (s *Supervisor) retire(srv *smpServer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if srv.stopped() {
		return true
	}
	if srv.size() > 0 {
		return false
	}
	if s.servers[srv.text] == srv {
		delete(s.servers, srv.text)
	}
	srv.started = false
	return true
}

// nextSeq returns a Seq larger than any before, in this process and
// (being a time in nanoseconds) before a restart.
func (s *Supervisor) nextSeq(now time.Time) int64 {
	for {
		last := s.seq.Load()
		next := max(last+1, now.UnixNano())
		if s.seq.CompareAndSwap(last, next) {
			return next
		}
	}
}

// backoff returns the delay after n failed attempts: MinBackoff doubled
// n-1 times up to MaxBackoff, with half of it random.
func (s *Supervisor) backoff(n int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < n && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// finalStatus reports whether an NSUB error means the queue is not to be
// subscribed again, and which status it gets.
func finalStatus(err error) (QueueStatus, bool) {
	if err == nil || smpclient.IsTemporary(err) {
		return "", false
	}
	if errors.Is(err, smpclient.ErrAuth) {
		return QueueAuth, true
	}
	return QueueError, true
}
