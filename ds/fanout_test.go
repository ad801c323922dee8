package ds_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/mls"
	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/store/memstore"
	"github.com/trystgw/tryst/store/redisstore"
	"github.com/trystgw/tryst/store/redisstore/redistest"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// TestFanOutExactlyOnce sends application messages and a commit in a
// five-member group: every other member's queue gets each exactly once,
// the sender's gets none.
func TestFanOutExactlyOnce(t *testing.T) {
	in := newSQLite(t)
	alice := in.client(t)
	others := []*dstest.Client{in.client(t), in.client(t), in.client(t), in.client(t)}
	gid := in.newGroup(t, alice, others...)
	const n = 20
	var sent [][]byte
	for range n {
		b := alice.AppMessage(t, 64)
		in.mustOK(t, b)
		sent = append(sent, mustBody(t, b))
	}
	if msgs := in.fetch(t, alice); len(msgs) != 0 {
		t.Errorf("the sender's queue holds %d messages, want 0", len(msgs))
	}
	for i, c := range others {
		in.drain(t, c)
		if len(c.Received) != n {
			t.Fatalf("member %d received %d messages, want %d", i, len(c.Received), n)
		}
		for j := range sent {
			if !bytes.Equal(c.Received[j], sent[j]) {
				t.Errorf("member %d message %d differs from the one sent", i, j)
			}
		}
	}
	// A commit reaches the others once and moves them all.
	joiner := in.client(t)
	p := others[0].AddCommit(t, joiner)
	in.mustOK(t, p.Request)
	others[0].Accepted(t, p)
	in.join(t, joiner, gid)
	for _, c := range append([]*dstest.Client{alice}, others...) {
		in.drain(t, c)
		if c.Group.Epoch() != 2 || !bytes.Equal(c.Group.GroupContext().TreeHash, joiner.Group.GroupContext().TreeHash) {
			t.Errorf("member at epoch %d, want 2 with the joiner's tree hash", c.Group.Epoch())
		}
	}
}

// TestProposalByReference sends an Add proposal, then a commit covering
// it by reference, with an instance restart in between (the proposal is
// restored from the store).
func TestProposalByReference(t *testing.T) {
	url := newSQLiteURL(t)
	in := newInstance(t, url)
	alice, bob, carol := in.client(t), in.client(t), in.client(t)
	gid := in.newGroup(t, alice, bob)
	in.mustOK(t, bob.ProposalMessage(t, &mls.Proposal{Type: mls.ProposalAdd, KeyPackage: carol.KeyPackage}))
	in.drain(t, alice) // alice learns the proposal

	restarted := newInstance(t, url)
	var ref []byte
	for _, pp := range alice.Group.PendingProposals() {
		ref = pp.Ref
	}
	p := alice.CommitRefs(t, [][]byte{ref}, carol)
	restarted.mustOK(t, p.Request)
	alice.Accepted(t, p)
	restarted.join(t, carol, gid)
	if carol.Group.NumMembers() != 3 || carol.Group.Epoch() != 2 {
		t.Errorf("carol sees %d members at epoch %d, want 3 at 2", carol.Group.NumMembers(), carol.Group.Epoch())
	}
	if restarted.ds.Stats().Restores != 1 {
		t.Errorf("restores = %d, want 1", restarted.ds.Stats().Restores)
	}
}

// TestMoveQueueLosesNothing moves a member to a new queue: what was
// queued stays in the old one, what follows goes to the new one.
func TestMoveQueueLosesNothing(t *testing.T) {
	in := newSQLite(t)
	alice, bob := in.client(t), in.client(t)
	gid := in.newGroup(t, alice, bob)
	in.mustOK(t, alice.AppMessage(t, 10))
	old := *bob
	q, secret, err := in.queues.Create(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	in.mustOK(t, bob.Message(t, bob.AsMember(), gid, ds.RequestUpdateQueueConfig, ds.MarshalQueueConfig(q.ID)))
	bob.Queue, bob.QueueSecret, bob.After = q.ID, secret, 0
	in.mustOK(t, alice.AppMessage(t, 10))
	if n := len(in.fetch(t, &old)); n != 1 {
		t.Errorf("old queue holds %d messages, want the 1 sent before the move", n)
	}
	if n := len(in.fetch(t, bob)); n != 1 {
		t.Errorf("new queue holds %d messages, want the 1 sent after the move", n)
	}
}

// TestLongPollWakes checks a member waiting on its queue is woken by a
// fan-out at once.
func TestLongPollWakes(t *testing.T) {
	in := newSQLite(t)
	alice, bob := in.client(t), in.client(t)
	in.newGroup(t, alice, bob)
	got := make(chan []qs.Message, 1)
	go func() {
		msgs, err := in.queues.Fetch(t.Context(), qs.Credentials{ID: string(bob.Queue), Secret: string(bob.QueueSecret)}, bob.After, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- msgs
	}()
	time.Sleep(20 * time.Millisecond) // let the fetch start waiting
	start := time.Now()
	in.mustOK(t, alice.AppMessage(t, 10))
	select {
	case msgs := <-got:
		if len(msgs) != 1 || time.Since(start) > 500*time.Millisecond {
			t.Errorf("long-poll returned %d messages after %v", len(msgs), time.Since(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long-poll not woken")
	}
}

// TestLongPollAcrossInstances checks that a long-poll on one instance
// sees a message another instance stored: at once with a shared Redis
// notifier, within a second (the store re-read) without one.
func TestLongPollAcrossInstances(t *testing.T) {
	url := sqlstoretest.PostgresURL(t)
	for _, tc := range []struct {
		name   string
		shared func(t *testing.T) (qs.Notifier, qs.Notifier)
		within time.Duration
	}{
		{"store re-read", func(t *testing.T) (qs.Notifier, qs.Notifier) {
			return memstore.NewNotifier[qs.ID](), memstore.NewNotifier[qs.ID]()
		}, 2 * time.Second}, // the 1 s re-read, with room for a loaded machine
		{"redis", redisNotifiers, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			na, nb := tc.shared(t)
			a, b := newInstanceWith(t, url, na), newInstanceWith(t, url, nb)
			alice, bob := a.client(t), a.client(t)
			a.newGroup(t, alice, bob)
			got := make(chan time.Time, 1)
			go func() {
				msgs, err := b.queues.Fetch(t.Context(), qs.Credentials{ID: string(bob.Queue), Secret: string(bob.QueueSecret)}, bob.After, 10*time.Second)
				if err != nil || len(msgs) != 1 {
					t.Errorf("Fetch on the other instance = %d messages, %v", len(msgs), err)
				}
				got <- time.Now()
			}()
			time.Sleep(50 * time.Millisecond) // let the fetch start waiting
			start := time.Now()
			a.mustOK(t, alice.AppMessage(t, 10))
			select {
			case at := <-got:
				if d := at.Sub(start); d > tc.within {
					t.Errorf("woken after %v, want within %v", d, tc.within)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("long-poll on the other instance not woken")
			}
		})
	}
}

func redisNotifiers(t *testing.T) (qs.Notifier, qs.Notifier) {
	opts, cfg, err := redisstore.ParseURL(redistest.StoreURL(t, redistest.URL(t)))
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	a := redisstore.NewNotifier[qs.ID](t.Context(), client, slog.New(slog.DiscardHandler), cfg, redisstore.TopicQueues)
	b := redisstore.NewNotifier[qs.ID](t.Context(), client, slog.New(slog.DiscardHandler), cfg, redisstore.TopicQueues)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}
