package ntf

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trystgw/tryst/smpclient"
)

// smpServer is the supervisor's state for one SMP server: its queues,
// which connection holds each, and the goroutine that keeps the
// connection.
type smpServer struct {
	text string
	addr smpclient.ServerAddress

	started bool // guarded by Supervisor.mu

	mu     sync.Mutex
	queues map[string]*heldQueue // guarded by mu; by notifier id
	// todo lists notifier ids waiting for NSUB on the current connection.
	todo []string // guarded by mu
	conn uint64   // guarded by mu; generation of the live connection, 0 when down
	gen  uint64   // guarded by mu; last generation handed out
	// subscribed counts the queues confirmed on the live connection, so
	// stats need not walk every queue under the lock.
	subscribed int // guarded by mu

	wakeC chan struct{} // capacity 1: something to do
	stopC chan struct{} // closed to stop
	once  sync.Once
	// ended is closed when the server's goroutine has returned (its
	// connection closed).
	ended chan struct{}
	// dropped: the instance gave the server up (Supervisor.Drop); its
	// queues' statuses are the next owner's to write.
	dropped atomic.Bool
}

// heldQueue is one queue of a server. It costs a key and a few words.
type heldQueue struct {
	key *smpclient.PrivateKey
	// conn is the generation of the connection that confirmed NSUB; 0
	// while unconfirmed. END and DELD count only from that connection.
	conn uint64
	// storedActive: the store records the queue active, so confirming
	// it writes nothing (a takeover re-confirms 100,000 such queues).
	storedActive bool
}

func newSMPServer(text string, addr smpclient.ServerAddress) *smpServer {
	return &smpServer{text: text, addr: addr, queues: map[string]*heldQueue{},
		wakeC: make(chan struct{}, 1), stopC: make(chan struct{}), ended: make(chan struct{})}
}

// add adds a queue (or replaces its key) and lists it for NSUB.
func (v *smpServer) add(q WatchedQueue) {
	v.mu.Lock()
	defer v.mu.Unlock()
	id := string(q.Ref.NotifierID)
	v.forget(v.queues[id])
	v.queues[id] = &heldQueue{key: q.Key, storedActive: q.Active}
	v.todo = append(v.todo, id)
}

func (v *smpServer) remove(notifierID []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.forget(v.queues[string(notifierID)])
	delete(v.queues, string(notifierID))
}

// forget uncounts q (nil: none) as it leaves the map; v.mu is held.
func (v *smpServer) forget(q *heldQueue) {
	if q != nil && v.live(q.conn) {
		v.subscribed--
	}
}

// live reports whether gen is the live connection; v.mu is held.
func (v *smpServer) live(gen uint64) bool { return gen != 0 && gen == v.conn }

func (v *smpServer) size() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.queues)
}

func (v *smpServer) wake() {
	select {
	case v.wakeC <- struct{}{}:
	default:
	}
}

func (v *smpServer) stop() { v.once.Do(func() { close(v.stopC) }) }

func (v *smpServer) stopped() bool {
	select {
	case <-v.stopC:
		return true
	default:
		return false
	}
}

// holds reports whether connection gen holds the queue's subscription.
func (v *smpServer) holds(notifierID []byte, gen uint64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	q := v.queues[string(notifierID)]
	return q != nil && gen != 0 && q.conn == gen
}

// watches reports whether the queue is still watched.
func (v *smpServer) watches(notifierID []byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.queues[string(notifierID)] != nil
}

// connected records a new live connection and lists every queue for
// NSUB on it. It returns the connection's generation.
func (v *smpServer) connected() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	v.conn = v.gen
	v.subscribed = 0
	v.todo = v.todo[:0]
	for id, q := range v.queues {
		q.conn = 0
		v.todo = append(v.todo, id)
	}
	return v.conn
}

// disconnected records that connection gen is down.
func (v *smpServer) disconnected(gen uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.conn == gen {
		v.conn = 0
		v.subscribed = 0
	}
	for _, q := range v.queues {
		if q.conn == gen {
			q.conn = 0
		}
	}
}

// takeTodo returns the queues waiting for NSUB (still watched) and
// clears the list.
func (v *smpServer) takeTodo() []smpclient.Queue {
	v.mu.Lock()
	defer v.mu.Unlock()
	qs := make([]smpclient.Queue, 0, len(v.todo))
	seen := make(map[string]bool, len(v.todo))
	for _, id := range v.todo {
		if q := v.queues[id]; q != nil && !seen[id] {
			seen[id] = true
			qs = append(qs, smpclient.Queue{NotifierID: []byte(id), Key: q.key})
		}
	}
	v.todo = v.todo[:0]
	return qs
}

// confirmed marks the queues confirmed on connection gen and returns
// those the store does not record active yet.
func (v *smpServer) confirmed(ids [][]byte, gen uint64) [][]byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	var unrecorded [][]byte
	for _, id := range ids {
		q := v.queues[string(id)]
		if q == nil {
			continue // forgotten meanwhile: its row is gone or final
		}
		if !q.storedActive {
			unrecorded = append(unrecorded, id)
		}
		if q.conn != gen {
			if v.live(q.conn) {
				v.subscribed--
			}
			if v.live(gen) {
				v.subscribed++
			}
			q.conn = gen
		}
	}
	return unrecorded
}

// recorded notes what the store now says of the queues: active, or
// (active false) something else for all of them when ids is nil.
func (v *smpServer) recorded(ids [][]byte, active bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ids == nil {
		for _, q := range v.queues {
			q.storedActive = active
		}
		return
	}
	for _, id := range ids {
		if q := v.queues[string(id)]; q != nil {
			q.storedActive = active
		}
	}
}

// requeue lists queues for NSUB again (after a temporary failure).
func (v *smpServer) requeue(ids [][]byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, id := range ids {
		v.todo = append(v.todo, string(id))
	}
}

// serve keeps srv's connection until srv has no queue or is stopped:
// dial with backoff, subscribe, wait for work or loss, repeat.
func (s *Supervisor) serve(srv *smpServer) {
	failures := 0
	for !s.retire(srv) {
		c, err := s.dial(srv)
		if err != nil {
			failures++
			s.stats.dialFailures.Add(1)
			s.log.Warn("smp server unreachable", "server", srv.text, "attempt", failures, "err", err)
			s.pause(srv, s.backoff(failures))
			continue
		}
		failures = 0
		s.hold(srv, c)
	}
}

// dial connects to srv within the dial timeout, or fails when srv stops.
func (s *Supervisor) dial(srv *smpServer) (*smpclient.Client, error) {
	ctx, cancel := stopContext(srv.stopC, s.cfg.DialTimeout)
	defer cancel()
	return smpclient.Dial(ctx, srv.addr, s.cfg.SMP)
}

// stopContext is a context with timeout that also ends when stop closes.
func stopContext(stop <-chan struct{}, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// pause waits d, or less if srv stops.
func (s *Supervisor) pause(srv *smpServer, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-srv.stopC:
	}
}

// hold serves one live connection: it takes its events, subscribes every
// queue, then new ones in batches, until the connection drops, srv
// stops or no queue is left.
func (s *Supervisor) hold(srv *smpServer, c *smpclient.Client) {
	gen := srv.connected()
	s.stats.connsUp.Add(1)
	defer s.stats.connsUp.Add(-1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for ev := range c.Events() {
			s.events.push(event{srv: srv, gen: gen, ev: ev})
		}
	}()
	// A stop closes the connection at once, even while status writes of
	// this connection still wait for the database: an instance giving up
	// a server must be off it before its lease ends.
	go func() {
		select {
		case <-srv.stopC:
			c.Close()
		case <-c.Done():
		}
	}()
	// Status writes of a batch may still run while the next batch is on
	// the wire; they end before the connection's end is recorded.
	var recording sync.WaitGroup
	defer func() {
		recording.Wait()
		c.Close()
		<-drained
		srv.disconnected(gen)
		if srv.dropped.Load() {
			return
		}
		srv.recorded(nil, false) // inactive now, or unknown if the write failed
		if err := s.store.DeactivateServer(context.Background(), srv.text); err != nil {
			s.log.Error("recording queues inactive", "server", srv.text, "err", err)
		}
	}()
	for {
		s.subscribe(srv, c, gen, &recording)
		select {
		case <-c.Done():
			s.log.Warn("smp connection lost", "server", srv.text, "err", c.Err())
			return
		case <-srv.stopC:
			return
		case <-srv.wakeC:
			if srv.size() == 0 {
				return
			}
			s.gather(srv, c)
		}
	}
}

// gather waits the batch window so queues added together share a batch.
func (s *Supervisor) gather(srv *smpServer, c *smpclient.Client) {
	t := time.NewTimer(s.cfg.BatchWindow)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.Done():
	case <-srv.stopC:
	}
}

// subscribe sends NSUB for the queues waiting, in chunks, and records
// the results.
// The results of a chunk are recorded while the next chunk is on the
// wire, so the store's writes do not hold the connection idle; the last
// chunk's are still being recorded when subscribe returns, so queues
// arriving page by page (a takeover's load) overlap the same way.
// recording holds the one chunk's writes in flight.
func (s *Supervisor) subscribe(srv *smpServer, c *smpclient.Client, gen uint64, recording *sync.WaitGroup) {
	todo := srv.takeTodo()
	for len(todo) > 0 {
		n := min(len(todo), s.cfg.SubscribeChunk)
		ctx, cancel := stopContext(srv.stopC, s.cfg.SubscribeTimeout)
		s.stats.nsubSent.Add(int64(n))
		results := c.Subscribe(ctx, todo[:n])
		cancel()
		recording.Wait() // one chunk's writes at a time
		recording.Go(func() { s.record(srv, gen, results) })
		todo = todo[n:]
	}
}

// record applies NSUB results: confirmed queues become active on this
// connection, final errors end the queue's watch with its status,
// temporary ones wait for the next connection.
func (s *Supervisor) record(srv *smpServer, gen uint64, results []smpclient.Result) {
	var ok, retry [][]byte
	final := map[QueueStatus]map[string][][]byte{}
	for _, r := range results {
		if r.Err == nil {
			ok = append(ok, r.NotifierID)
			continue
		}
		st, isFinal := finalStatus(r.Err)
		if !isFinal {
			retry = append(retry, r.NotifierID)
			continue
		}
		if final[st] == nil {
			final[st] = map[string][][]byte{}
		}
		final[st][r.Err.Error()] = append(final[st][r.Err.Error()], r.NotifierID)
		srv.remove(r.NotifierID)
	}
	unrecorded := srv.confirmed(ok, gen)
	if len(retry) > 0 {
		srv.requeue(retry)
		srv.wake()
	}
	s.stats.nsubConfirmed.Add(int64(len(ok)))
	s.stats.nsubFailed.Add(int64(len(results) - len(ok)))
	if s.setStatus(srv.text, unrecorded, QueueActive, "") {
		srv.recorded(unrecorded, true)
	}
	for st, byText := range final {
		for text, ids := range byText {
			if st == QueueAuth {
				text = ""
			}
			s.setStatus(srv.text, ids, st, text)
		}
	}
}

// setStatus writes statuses, logging a failure: the store catches up at
// the next change or restart. It reports whether the write succeeded.
func (s *Supervisor) setStatus(server string, ids [][]byte, st QueueStatus, text string) bool {
	if len(ids) == 0 {
		return true
	}
	if err := s.store.SetQueueStatus(context.Background(), server, ids, st, text); err != nil {
		s.log.Error("recording queue status", "server", server, "status", string(st), "queues", len(ids), "err", err)
		return false
	}
	return true
}
