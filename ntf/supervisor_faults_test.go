package ntf_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// TestSupervisorReconnect drops the connection: the queue goes inactive,
// comes back active on a new connection, and an NMSG after that arrives.
func TestSupervisorReconnect(t *testing.T) {
	r := newRig(t, sqlstoretest.SQLiteURL(t))
	a := r.newApp(t)
	q, nq := r.newQueue(t)
	sub, _, err := r.subs.Create(t.Context(), a.creds, []ntf.NewQueue{nq})
	if err != nil {
		t.Fatal(err)
	}
	r.waitStatus(t, a, sub.ID, 0, ntf.QueueActive)
	r.smp.Stall() // keeps the reconnection from succeeding at once
	r.smp.DropConnections()
	r.waitStatus(t, a, sub.ID, 0, ntf.QueueInactive)
	r.smp.Resume()
	r.waitStatus(t, a, sub.ID, 0, ntf.QueueActive)
	waitFor(t, "the resubscription", func() bool { return r.smp.Subscribed(q.NotifierID) })
	r.nmsg(t, q, 2)
	r.waitEntry(t, a, q, 2)
	if st := r.sup.Stats(); st.ConnectionsUp != 1 || st.Subscribed != 1 {
		t.Errorf("Stats = %+v, want one connection holding one queue", st)
	}
}

// TestSupervisorEndDeldAuth checks the final statuses: END and DELD from
// the holding connection, ERR AUTH on NSUB; none is resubscribed, and the
// connection closes when no queue needs it.
func TestSupervisorEndDeldAuth(t *testing.T) {
	r := newRig(t, sqlstoretest.SQLiteURL(t))
	a := r.newApp(t)
	qEnd, nEnd := r.newQueue(t)
	qDel, nDel := r.newQueue(t)
	_, nAuth := r.newQueue(t)
	nAuth.Key, _ = smpclient.GenerateKey(smpclient.Ed25519) // not the key the server knows
	sub, _, err := r.subs.Create(t.Context(), a.creds, []ntf.NewQueue{nEnd, nDel, nAuth})
	if err != nil {
		t.Fatal(err)
	}
	r.waitStatus(t, a, sub.ID, 0, ntf.QueueActive)
	r.waitStatus(t, a, sub.ID, 2, ntf.QueueAuth)
	if err := r.smp.SendEND(qEnd.NotifierID); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(t, a, sub.ID, 0, ntf.QueueEnded)
	if err := r.smp.DeleteQueue(qDel.NotifierID); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(t, a, sub.ID, 1, ntf.QueueDeleted)
	waitFor(t, "the connection to close", func() bool { return r.smp.ConnCount() == 0 })
	nsubs := r.smp.Stats().NSUB
	r.stop()
	r.start(t) // a restart does not resubscribe them either
	waitFor(t, "the restarted supervisor", r.sup.Ready)
	if got := r.smp.Stats().NSUB; got != nsubs || r.smp.ConnCount() != 0 {
		t.Errorf("after restart: %d NSUB, %d connections; want none new", got-nsubs, r.smp.ConnCount())
	}
	for i, want := range []ntf.QueueStatus{ntf.QueueEnded, ntf.QueueDeleted, ntf.QueueAuth} {
		if got := r.queueStatus(t, a, sub.ID, i); got != want {
			t.Errorf("queue %d after restart: %s, want %s", i, got, want)
		}
	}
}

// TestSupervisorRotation adds a queue with rotate: both are subscribed;
// the old one's notification is pushed; the first on the new one retires
// the old queue; nothing is lost or pushed twice.
func TestSupervisorRotation(t *testing.T) {
	r := newRig(t, sqlstoretest.SQLiteURL(t))
	a := r.newApp(t)
	qOld, nOld := r.newQueue(t)
	sub, _, err := r.subs.Create(t.Context(), a.creds, []ntf.NewQueue{nOld})
	if err != nil {
		t.Fatal(err)
	}
	qNew, nNew := r.newQueue(t)
	nNew.Rotate = true
	if _, err := r.subs.AddQueue(t.Context(), a.creds, string(sub.ID), nNew); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(t, a, sub.ID, 1, ntf.QueueActive)
	r.nmsg(t, qOld, 3)
	r.waitEntry(t, a, qOld, 3)
	r.nmsg(t, qNew, 4)
	r.waitEntry(t, a, qNew, 4)
	waitFor(t, "the old queue's retirement", func() bool {
		s, err := r.subs.Get(t.Context(), a.creds, string(sub.ID))
		return err == nil && len(s.Queues) == 1 && string(s.Queues[0].NotifierID) == string(qNew.NotifierID)
	})
	waitFor(t, "an empty outbox", func() bool { st, _ := r.outbox.Stats(t.Context()); return st.Depth == 0 })
	if n := len(r.pusher.messages()); n != 2 {
		t.Errorf("%d message pushes, want 2 (one per NMSG)", n)
	}
	if st := r.sup.Stats(); st.Queues != 1 {
		t.Errorf("supervisor still watches %d queues, want 1", st.Queues)
	}
}

// TestSupervisorRedundancy keeps two queues on two servers; with one
// server down, the other's notifications still arrive.
func TestSupervisorRedundancy(t *testing.T) {
	r := newRig(t, sqlstoretest.SQLiteURL(t))
	a := r.newApp(t)
	down, err := smptest.NewServer(smptest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	qDown, err := down.NewQueue(smpclient.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	nDown := parseQueue(t, down, qDown)
	down.Close()
	qUp, nUp := r.newQueue(t)
	sub, _, err := r.subs.Create(t.Context(), a.creds, []ntf.NewQueue{nDown, nUp})
	if err != nil {
		t.Fatal(err)
	}
	r.waitStatus(t, a, sub.ID, 1, ntf.QueueActive)
	r.nmsg(t, qUp, 5)
	r.waitEntry(t, a, qUp, 5)
	if st := r.queueStatus(t, a, sub.ID, 0); st != ntf.QueuePending {
		t.Errorf("queue on the unreachable server: %s, want pending", st)
	}
	if st := r.sup.Stats(); st.Servers != 2 || st.ConnectionsUp != 1 || st.DialFailures == 0 {
		t.Errorf("Stats = %+v, want 2 servers, 1 up, failed dials", st)
	}
}

// TestOutboxRedeliveredAfterRestart refuses pushes, restarts, and checks
// the stored notification is pushed by the new run.
func TestOutboxRedeliveredAfterRestart(t *testing.T) {
	r := newRig(t, sqlstoretest.SQLiteURL(t))
	a := r.newApp(t)
	q, nq := r.newQueue(t)
	sub, _, err := r.subs.Create(t.Context(), a.creds, []ntf.NewQueue{nq})
	if err != nil {
		t.Fatal(err)
	}
	r.waitStatus(t, a, sub.ID, 0, ntf.QueueActive)
	r.pusher.mu.Lock()
	r.pusher.refuse = true
	r.pusher.mu.Unlock()
	r.nmsg(t, q, 6)
	waitFor(t, "a refused push", func() bool { st, _ := r.outbox.Stats(t.Context()); return st.PushFailures > 0 })
	r.stop()
	r.pusher.mu.Lock()
	r.pusher.refuse, r.pusher.sent = false, nil
	r.pusher.mu.Unlock()
	r.start(t)
	r.waitEntry(t, a, q, 6)
	waitFor(t, "an empty outbox", func() bool { st, _ := r.outbox.Stats(t.Context()); return st.Depth == 0 })
}

// statusCounter counts the queues whose status a supervisor writes.
type statusCounter struct {
	ntf.SubscriptionStore
	mu     sync.Mutex
	active int
}

func (s *statusCounter) SetQueueStatus(ctx context.Context, server string, ids [][]byte, st ntf.QueueStatus, text string) error {
	s.mu.Lock()
	if st == ntf.QueueActive {
		s.active += len(ids)
	}
	s.mu.Unlock()
	return s.SubscriptionStore.SetQueueStatus(ctx, server, ids, st, text)
}

// TestRestartWritesNoKnownStatus: after a crash (the store still records
// the queue active), confirming it again writes nothing; a new queue's
// confirmation is written once.
func TestRestartWritesNoKnownStatus(t *testing.T) {
	r := newRig(t, sqlstoretest.SQLiteURL(t))
	a := r.newApp(t)
	_, nq := r.newQueue(t)
	sub, _, err := r.subs.Create(t.Context(), a.creds, []ntf.NewQueue{nq})
	if err != nil {
		t.Fatal(err)
	}
	r.waitStatus(t, a, sub.ID, 0, ntf.QueueActive)
	r.stop() // records the queue inactive; a crash would have left it active:
	if err := r.db.Subscriptions().SetQueueStatus(t.Context(), nq.Server.String(), [][]byte{nq.NotifierID}, ntf.QueueActive, ""); err != nil {
		t.Fatal(err)
	}

	counter := &statusCounter{SubscriptionStore: r.db.Subscriptions()}
	key, _ := masterkey.New(bytes.Repeat([]byte{7}, masterkey.Size))
	sup := ntf.NewSupervisor(counter, key, nopSink{}, slog.New(slog.DiscardHandler), testSupervisorConfig)
	ctx, cancel := context.WithCancel(t.Context())
	var done sync.WaitGroup
	done.Go(func() { sup.Run(ctx) })
	defer func() { cancel(); done.Wait() }()
	waitFor(t, "the restarted supervisor to hold the queue", func() bool { return sup.Stats().Subscribed == 1 })
	q2, nq2 := r.newQueue(t)
	subs := ntf.NewSubscriptions(r.tokens, counter, key, sup)
	if _, _, err := subs.Create(t.Context(), a.creds, []ntf.NewQueue{nq2}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new queue", func() bool { return r.smp.Subscribed(q2.NotifierID) && sup.Stats().Subscribed == 2 })
	waitFor(t, "the new queue's status", func() bool { counter.mu.Lock(); defer counter.mu.Unlock(); return counter.active >= 1 })
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if counter.active != 1 {
		t.Errorf("%d active statuses written, want 1 (the new queue's only)", counter.active)
	}
}
