package ntf

import (
	"context"
	"sync"
	"time"

	"github.com/trystgw/tryst/smpclient"
)

// event is an SMP event with the connection it came on.
type event struct {
	srv *smpServer
	gen uint64
	ev  smpclient.Event
}

// eventQueue is an unbounded FIFO between the connections' event readers
// (which must never wait) and the store writer.
type eventQueue struct {
	mu      sync.Mutex
	items   []event // guarded by mu
	closed  bool    // guarded by mu
	ready   chan struct{}
	closedC chan struct{} // closed by close: wakes every taker
}

func newEventQueue() eventQueue {
	return eventQueue{ready: make(chan struct{}, 1), closedC: make(chan struct{})}
}

func (q *eventQueue) push(e event) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	q.signal()
}

func (q *eventQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *eventQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.closedC)
	}
}

// take waits for events and returns up to n of them; ok is false once
// the queue is closed and empty.
func (q *eventQueue) take(n int) (batch []event, ok bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			k := min(n, len(q.items))
			batch = append(batch, q.items[:k]...)
			q.items = q.items[k:]
			if len(q.items) == 0 {
				q.items = nil // let the backing array go after a burst
			} else {
				q.signal() // more for another taker
			}
			q.mu.Unlock()
			return batch, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-q.ready:
		case <-q.closedC:
		}
	}
}

// depth returns the number of events waiting.
func (q *eventQueue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// writeEvents writes events to the store until the queue closes: NMSGs
// into the outbox in one transaction per batch, then END and DELD as
// statuses.
func (s *Supervisor) writeEvents() {
	for {
		batch, ok := s.events.take(eventBatch)
		if !ok {
			return
		}
		s.writeBatch(batch)
	}
}

// writeBatch handles one batch of events.
func (s *Supervisor) writeBatch(batch []event) {
	var ns []Notification
	var from []*smpServer
	for _, e := range batch {
		switch m := e.ev.Msg.(type) {
		case smpclient.NMSG:
			s.stats.nmsgReceived.Add(1)
			if !e.srv.watches(e.ev.NotifierID) {
				continue // forgotten: the app removed the queue
			}
			ns = append(ns, Notification{Server: e.srv.text, NotifierID: e.ev.NotifierID, ReceivedAt: e.ev.Received,
				Nonce: m.Nonce, EncMeta: m.EncMeta, Seq: s.nextSeq(e.ev.Received)})
			from = append(from, e.srv)
		case smpclient.END:
			s.endQueue(e, QueueEnded)
		case smpclient.DELD:
			s.endQueue(e, QueueDeleted)
		default:
			s.log.Warn("smp event ignored", "server", e.srv.text, "event", describeMessage(m))
		}
	}
	if len(ns) > 0 {
		s.storeNotifications(ns, from)
	}
}

// storeNotifications writes ns to the outbox, retrying until it
// succeeds or the supervisor has stopped, then hands the tokens on.
func (s *Supervisor) storeNotifications(ns []Notification, from []*smpServer) {
	var accepted []Accepted
	for attempt := 1; ; attempt++ {
		var err error
		accepted, err = s.store.AddNotifications(context.Background(), ns, s.cfg.Now().Add(s.cfg.SweepGrace))
		if err == nil {
			break
		}
		s.log.Error("writing notifications to the outbox", "count", len(ns), "attempt", attempt, "err", err)
		select {
		case <-s.quit:
			return
		case <-time.After(s.backoff(attempt)):
		}
	}
	for i, a := range accepted {
		switch {
		case !a.Found:
			from[i].remove(ns[i].NotifierID) // deleted meanwhile
		default:
			s.stats.nmsgStored.Add(1)
			s.Forget(a.Retired)
			s.sink.Kick(a.Token)
		}
	}
}

// endQueue honours END or DELD if it came on the connection holding the
// queue: the queue is dropped and keeps the status until the app acts.
func (s *Supervisor) endQueue(e event, st QueueStatus) {
	if !e.srv.holds(e.ev.NotifierID, e.gen) {
		s.log.Debug("end of a subscription this connection does not hold", "server", e.srv.text, "status", string(st))
		return
	}
	e.srv.remove(e.ev.NotifierID)
	e.srv.wake() // closes the connection if it was the last queue
	s.setStatus(e.srv.text, [][]byte{e.ev.NotifierID}, st, "")
}

// describeMessage names an event for logs.
func describeMessage(m smpclient.Message) string {
	if st, ok := m.(interface{ String() string }); ok {
		return st.String()
	}
	return "unknown"
}
