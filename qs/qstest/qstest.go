// Package qstest checks qs.Store implementations: TestStore is the
// conformance suite every backend runs.
package qstest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/qs"
)

// NewQueue stores a fresh queue in s and returns it.
func NewQueue(t testing.TB, s qs.Store, token ntf.TokenID) qs.Queue {
	t.Helper()
	q := qs.Queue{ID: qs.NewID(), SecretHash: qs.NewSecret().Hash(), Token: token, CreatedAt: time.UnixMilli(1_700_000_000_000).UTC()}
	if err := s.Create(t.Context(), q); err != nil {
		t.Fatalf("Create = %v", err)
	}
	return q
}

// TestStore checks that a qs.Store behaves as the interface documents.
// newStore must return an empty store.
func TestStore(t *testing.T, newStore func(t *testing.T) qs.Store) {
	t.Run("CreateGet", func(t *testing.T) { testCreateGet(t, newStore(t)) })
	t.Run("EnqueueFetchAck", func(t *testing.T) { testEnqueueFetchAck(t, newStore(t)) })
	t.Run("SequenceNeverReused", func(t *testing.T) { testSequence(t, newStore(t)) })
	t.Run("MissingQueues", func(t *testing.T) { testMissing(t, newStore(t)) })
	t.Run("ClaimPushOnce", func(t *testing.T) { testClaimPush(t, newStore(t)) })
	t.Run("ExceptSender", func(t *testing.T) { testExcept(t, newStore(t)) })
	t.Run("SweepFreesWhatAllAcked", func(t *testing.T) { testSweep(t, newStore(t)) })
	t.Run("DeleteLeavesTheOthers", func(t *testing.T) { testDelete(t, newStore(t)) })
}

// testDelete: a deleted queue is gone for every operation and from every
// fan-out, its set's other members keep their messages, and what only it
// had not acknowledged is freed.
func testDelete(t *testing.T, s qs.Store) {
	a, b, c := NewQueue(t, s, ""), NewQueue(t, s, ""), NewQueue(t, s, "")
	now := time.Now()
	set := []qs.ID{a.ID, b.ID, c.ID}
	if _, err := s.Enqueue(t.Context(), set, a.ID, []byte("before"), now); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), b.ID); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if err := s.Delete(t.Context(), b.ID); !errors.Is(err, qs.ErrNotFound) {
		t.Errorf("Delete again = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(t.Context(), b.ID); !errors.Is(err, qs.ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	if _, err := s.Fetch(t.Context(), b.ID, 0, 10); !errors.Is(err, qs.ErrNotFound) {
		t.Errorf("Fetch(deleted) = %v, want ErrNotFound", err)
	}
	if missing, err := s.Missing(t.Context(), set); err != nil || len(missing) != 1 || missing[0] != b.ID {
		t.Errorf("Missing = %v, %v; want [b]", missing, err)
	}
	got, err := s.Enqueue(t.Context(), set, a.ID, []byte("after"), now)
	if err != nil || len(got) != 1 || got[0] != c.ID {
		t.Errorf("Enqueue after the delete = %v, %v; want [c]", got, err)
	}
	msgs := fetch(t, s, c.ID, 0)
	if len(msgs) != 2 || string(msgs[0].Data) != "before" || string(msgs[1].Data) != "after" {
		t.Fatalf("c holds %v, want both messages", msgs)
	}
	if err := s.Ack(t.Context(), c.ID, msgs[1].Seq); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(t.Context(), now.Add(-time.Hour), 100); err != nil || n != 2 {
		t.Errorf("Sweep after c acknowledged = %d, %v; want both messages freed (b is gone, a sent them)", n, err)
	}
}

func testExcept(t *testing.T, s qs.Store) {
	a, b := NewQueue(t, s, ""), NewQueue(t, s, "")
	got, err := s.Enqueue(t.Context(), []qs.ID{a.ID, b.ID}, a.ID, []byte("from a"), time.Now())
	if err != nil || len(got) != 1 || got[0] != b.ID {
		t.Fatalf("Enqueue(except a) = %v, %v; want [b]", got, err)
	}
	if msgs := fetch(t, s, a.ID, 0); len(msgs) != 0 {
		t.Errorf("the sender's queue got %d messages, want 0", len(msgs))
	}
	// The same set with another sender: each gets the other's once.
	if _, err := s.Enqueue(t.Context(), []qs.ID{b.ID, a.ID}, b.ID, []byte("from b"), time.Now()); err != nil {
		t.Fatal(err)
	}
	ma, mb := fetch(t, s, a.ID, 0), fetch(t, s, b.ID, 0)
	if len(ma) != 1 || string(ma[0].Data) != "from b" || len(mb) != 1 || string(mb[0].Data) != "from a" {
		t.Errorf("a holds %v, b holds %v; want each the other's message", ma, mb)
	}
}

func testSweep(t *testing.T, s qs.Store) {
	a, b := NewQueue(t, s, ""), NewQueue(t, s, "")
	now := time.Now()
	if _, err := s.Enqueue(t.Context(), []qs.ID{a.ID, b.ID}, "", []byte("shared"), now); err != nil {
		t.Fatal(err)
	}
	seq := fetch(t, s, a.ID, 0)[0].Seq
	if err := s.Ack(t.Context(), a.ID, seq); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(t.Context(), now.Add(-time.Hour), 100); err != nil || n != 0 {
		t.Errorf("Sweep with one recipient behind = %d, %v; want 0 freed", n, err)
	}
	if msgs := fetch(t, s, b.ID, 0); len(msgs) != 1 {
		t.Fatalf("b lost its message to a sweep: %v", msgs)
	}
	if err := s.Ack(t.Context(), b.ID, seq); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Sweep(t.Context(), now.Add(time.Hour), 100); err != nil || n != 1 {
		t.Errorf("Sweep after every ack = %d, %v; want 1 freed", n, err)
	}
	// The set was swept too (unused before the cutoff): fan-outs to it
	// still work.
	if got, err := s.Enqueue(t.Context(), []qs.ID{a.ID, b.ID}, "", []byte("again"), now); err != nil || len(got) != 2 {
		t.Fatalf("Enqueue after the sweep = %v, %v", got, err)
	}
	if msgs := fetch(t, s, b.ID, seq); len(msgs) != 1 || string(msgs[0].Data) != "again" {
		t.Errorf("after the sweep b holds %v", msgs)
	}
}

func testCreateGet(t *testing.T, s qs.Store) {
	q := NewQueue(t, s, "tok")
	got, err := s.Get(t.Context(), q.ID)
	if err != nil || got != q {
		t.Errorf("Get = %+v, %v; want %+v", got, err, q)
	}
	if err := s.Create(t.Context(), q); !errors.Is(err, qs.ErrExists) {
		t.Errorf("Create(duplicate) = %v, want ErrExists", err)
	}
	if _, err := s.Get(t.Context(), qs.NewID()); !errors.Is(err, qs.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	if _, err := s.Fetch(t.Context(), qs.NewID(), 0, 10); !errors.Is(err, qs.ErrNotFound) {
		t.Errorf("Fetch(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Ack(t.Context(), qs.NewID(), 1); !errors.Is(err, qs.ErrNotFound) {
		t.Errorf("Ack(missing) = %v, want ErrNotFound", err)
	}
}

func fetch(t *testing.T, s qs.Store, id qs.ID, after uint64) []qs.Message {
	t.Helper()
	msgs, err := s.Fetch(t.Context(), id, after, 100)
	if err != nil {
		t.Fatalf("Fetch = %v", err)
	}
	return msgs
}

func testEnqueueFetchAck(t *testing.T, s qs.Store) {
	a, b := NewQueue(t, s, ""), NewQueue(t, s, "")
	ghost := qs.NewID()
	at := time.UnixMilli(1_700_000_000_123).UTC()
	got, err := s.Enqueue(t.Context(), []qs.ID{a.ID, ghost, b.ID, a.ID}, "", []byte("one"), at)
	if err != nil || len(got) != 2 || got[0] != a.ID || got[1] != b.ID {
		t.Fatalf("Enqueue = %v, %v; want [a b]", got, err)
	}
	if _, err := s.Enqueue(t.Context(), []qs.ID{a.ID}, "", []byte("two"), at); err != nil {
		t.Fatal(err)
	}
	ma := fetch(t, s, a.ID, 0)
	if len(ma) != 2 || string(ma[0].Data) != "one" || string(ma[1].Data) != "two" || ma[0].Seq >= ma[1].Seq || !ma[0].ReceivedAt.Equal(at) {
		t.Fatalf("Fetch(a) = %+v", ma)
	}
	if mb := fetch(t, s, b.ID, 0); len(mb) != 1 || !bytes.Equal(mb[0].Data, []byte("one")) || mb[0].Seq != ma[0].Seq {
		t.Errorf("Fetch(b) = %+v, want the shared first message once", mb)
	}
	if after := fetch(t, s, a.ID, ma[0].Seq); len(after) != 1 || after[0].Seq != ma[1].Seq {
		t.Errorf("Fetch(a, after first) = %+v", after)
	}
	if err := s.Ack(t.Context(), a.ID, ma[0].Seq); err != nil {
		t.Fatal(err)
	}
	if left := fetch(t, s, a.ID, 0); len(left) != 1 || left[0].Seq != ma[1].Seq {
		t.Errorf("after Ack(first), Fetch(a) = %+v", left)
	}
	// b still holds the shared payload a released.
	if mb := fetch(t, s, b.ID, 0); len(mb) != 1 || string(mb[0].Data) != "one" {
		t.Errorf("after a's ack, Fetch(b) = %+v", mb)
	}
	if err := s.Ack(t.Context(), b.ID, ma[1].Seq); err != nil {
		t.Fatal(err)
	}
	if mb := fetch(t, s, b.ID, 0); len(mb) != 0 {
		t.Errorf("after Ack(all), Fetch(b) = %+v", mb)
	}
	if got, err := s.Enqueue(t.Context(), []qs.ID{ghost}, "", []byte("x"), at); err != nil || len(got) != 0 {
		t.Errorf("Enqueue(only missing) = %v, %v", got, err)
	}
}

func testSequence(t *testing.T, s qs.Store) {
	q := NewQueue(t, s, "")
	var last uint64
	for i := range 3 {
		if _, err := s.Enqueue(t.Context(), []qs.ID{q.ID}, "", []byte{byte(i)}, time.Now()); err != nil {
			t.Fatal(err)
		}
		msgs := fetch(t, s, q.ID, last)
		if len(msgs) != 1 || msgs[0].Seq <= last {
			t.Fatalf("round %d: Fetch = %+v after %d", i, msgs, last)
		}
		last = msgs[0].Seq
		if err := s.Ack(t.Context(), q.ID, last); err != nil {
			t.Fatal(err)
		}
	}
	// Concurrent enqueues get distinct numbers.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := s.Enqueue(t.Context(), []qs.ID{q.ID}, "", []byte{byte(i)}, time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	msgs := fetch(t, s, q.ID, last)
	seen := map[uint64]bool{}
	for _, m := range msgs {
		seen[m.Seq] = true
	}
	if len(msgs) != 8 || len(seen) != 8 {
		t.Errorf("8 concurrent enqueues gave %d messages with %d numbers", len(msgs), len(seen))
	}
}

func testMissing(t *testing.T, s qs.Store) {
	a := NewQueue(t, s, "")
	ghost := qs.NewID()
	got, err := s.Missing(t.Context(), []qs.ID{a.ID, ghost})
	if err != nil || len(got) != 1 || got[0] != ghost {
		t.Errorf("Missing = %v, %v; want [ghost]", got, err)
	}
	if got, err := s.Missing(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("Missing(nil) = %v, %v", got, err)
	}
}

func testClaimPush(t *testing.T, s qs.Store) {
	linked, plain := NewQueue(t, s, "tok"), NewQueue(t, s, "")
	var wg sync.WaitGroup
	var mu sync.Mutex
	claims := 0
	for range 6 {
		wg.Go(func() {
			got, err := s.ClaimPushes(t.Context(), []qs.ID{linked.ID, plain.ID})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			claims += len(got)
			mu.Unlock()
			for _, q := range got {
				if q.ID != linked.ID || q.Token != "tok" {
					t.Errorf("claimed %+v, want only the linked queue", q)
				}
			}
		})
	}
	wg.Wait()
	if claims != 1 {
		t.Errorf("6 concurrent ClaimPushes claimed %d times, want 1", claims)
	}
	if q, _ := s.Get(t.Context(), linked.ID); !q.PushPending {
		t.Error("PushPending not set after a claim")
	}
	fetch(t, s, linked.ID, 0)
	if got, err := s.ClaimPushes(t.Context(), []qs.ID{linked.ID}); err != nil || len(got) != 1 {
		t.Errorf("after Fetch, ClaimPushes = %v, %v; want a new claim", got, err)
	}
	if err := s.ReleasePush(t.Context(), linked.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimPushes(t.Context(), []qs.ID{linked.ID}); err != nil || len(got) != 1 {
		t.Errorf("after ReleasePush, ClaimPushes = %v, %v; want a new claim", got, err)
	}
	if err := s.ReleasePush(t.Context(), qs.NewID()); err != nil {
		t.Errorf("ReleasePush(missing) = %v, want nil", err)
	}
}
