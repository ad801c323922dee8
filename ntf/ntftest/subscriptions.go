package ntftest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
)

// Stores are a token store and a subscription store over one database,
// as TestSubscriptionStore needs (subscriptions belong to tokens).
type Stores struct {
	Tokens        ntf.TokenStore
	Subscriptions ntf.SubscriptionStore
}

// NewQueue returns a pending queue on server with a notifier id made
// from seed.
func NewQueue(server string, seed int) ntf.Queue {
	return ntf.Queue{
		QueueRef:  ntf.QueueRef{Server: server, NotifierID: []byte(fmt.Sprintf("notifier-%03d", seed))},
		KeySealed: []byte(fmt.Sprintf("sealed-key-%d", seed)), Status: ntf.QueuePending,
		AddedAt: epoch.Add(time.Duration(seed) * time.Second),
	}
}

// Servers used by the suite.
const (
	serverA = "smp://AAAA@a.example"
	serverB = "smp://BBBB@b.example:5223"
)

// TestSubscriptionStore checks that an ntf.SubscriptionStore behaves as
// the interface documents. newStores must return empty stores.
func TestSubscriptionStore(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Run("CreateGet", func(t *testing.T) { testSubCreateGet(t, newStores(t)) })
	t.Run("QueueTaken", func(t *testing.T) { testSubQueueTaken(t, newStores(t)) })
	t.Run("AddRemoveQueue", func(t *testing.T) { testSubAddRemove(t, newStores(t)) })
	t.Run("Delete", func(t *testing.T) { testSubDelete(t, newStores(t)) })
	t.Run("TokenDeleteCascades", func(t *testing.T) { testSubTokenDelete(t, newStores(t)) })
	t.Run("LoadAndStatus", func(t *testing.T) { testSubLoadStatus(t, newStores(t)) })
	t.Run("Outbox", func(t *testing.T) { testOutbox(t, newStores(t)) })
	t.Run("OutboxClaim", func(t *testing.T) { testOutboxClaim(t, newStores(t)) })
	t.Run("Rotation", func(t *testing.T) { testOutboxRotation(t, newStores(t)) })
}

// newSub stores a token and a subscription of it with queues.
func newSub(t *testing.T, s Stores, seed int, queues ...ntf.Queue) ntf.Subscription {
	t.Helper()
	tk := NewToken(seed)
	create(t, s.Tokens, tk)
	sub := ntf.Subscription{ID: ntf.NewSubscriptionID(), Token: tk.ID, Queues: queues, CreatedAt: epoch}
	if err := s.Subscriptions.CreateSubscription(t.Context(), sub); err != nil {
		t.Fatalf("CreateSubscription = %v", err)
	}
	return sub
}

func getSub(t *testing.T, s Stores, sub ntf.Subscription) ntf.Subscription {
	t.Helper()
	got, err := s.Subscriptions.GetSubscription(t.Context(), sub.Token, sub.ID)
	if err != nil {
		t.Fatalf("GetSubscription = %v", err)
	}
	return got
}

// sameQueues reports the first difference between queue lists.
func sameQueues(want, got []ntf.Queue) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d queues, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Server != g.Server || !bytes.Equal(w.NotifierID, g.NotifierID) || !bytes.Equal(w.KeySealed, g.KeySealed) ||
			w.Status != g.Status || w.Error != g.Error || w.Rotate != g.Rotate || !w.AddedAt.Equal(g.AddedAt) {
			return fmt.Sprintf("queue %d = %+v, want %+v", i, g, w)
		}
	}
	return ""
}

func testSubCreateGet(t *testing.T, s Stores) {
	qs := []ntf.Queue{NewQueue(serverB, 2), NewQueue(serverA, 1)}
	qs[1].Rotate = true
	sub := newSub(t, s, 1, qs...)
	got := getSub(t, s, sub)
	if d := sameQueues(qs, got.Queues); d != "" || !got.CreatedAt.Equal(epoch) {
		t.Errorf("GetSubscription: %s, created %v", d, got.CreatedAt)
	}
	other := NewToken(2)
	create(t, s.Tokens, other)
	if _, err := s.Subscriptions.GetSubscription(t.Context(), other.ID, sub.ID); !errors.Is(err, ntf.ErrSubscriptionNotFound) {
		t.Errorf("GetSubscription(another token's) = %v, want ErrSubscriptionNotFound", err)
	}
	tok, id, q, err := s.Subscriptions.FindQueue(t.Context(), qs[1].QueueRef)
	if err != nil || tok != sub.Token || id != sub.ID || !bytes.Equal(q.KeySealed, qs[1].KeySealed) {
		t.Errorf("FindQueue = %s %s %v %v", tok, id, q, err)
	}
	if _, _, _, err := s.Subscriptions.FindQueue(t.Context(), NewQueue(serverA, 9).QueueRef); !errors.Is(err, ntf.ErrQueueNotFound) {
		t.Errorf("FindQueue(missing) = %v, want ErrQueueNotFound", err)
	}
}

func testSubQueueTaken(t *testing.T, s Stores) {
	first := newSub(t, s, 1, NewQueue(serverA, 1))
	tk := NewToken(2)
	create(t, s.Tokens, tk)
	dup := ntf.Subscription{ID: ntf.NewSubscriptionID(), Token: tk.ID, Queues: []ntf.Queue{NewQueue(serverA, 2), NewQueue(serverA, 1)}, CreatedAt: epoch}
	if err := s.Subscriptions.CreateSubscription(t.Context(), dup); !errors.Is(err, ntf.ErrQueueTaken) {
		t.Fatalf("CreateSubscription(taken queue) = %v, want ErrQueueTaken", err)
	}
	if _, err := s.Subscriptions.GetSubscription(t.Context(), tk.ID, dup.ID); !errors.Is(err, ntf.ErrSubscriptionNotFound) {
		t.Errorf("refused subscription was stored: %v", err)
	}
	if _, _, _, err := s.Subscriptions.FindQueue(t.Context(), NewQueue(serverA, 2).QueueRef); !errors.Is(err, ntf.ErrQueueNotFound) {
		t.Errorf("queue of a refused subscription was stored: %v", err)
	}
	if _, err := s.Subscriptions.AddQueue(t.Context(), first.Token, first.ID, NewQueue(serverA, 1)); !errors.Is(err, ntf.ErrQueueTaken) {
		t.Errorf("AddQueue(taken) = %v, want ErrQueueTaken", err)
	}
	if got := getSub(t, s, first); len(got.Queues) != 1 {
		t.Errorf("after refused AddQueue: %d queues, want 1", len(got.Queues))
	}
}

func testSubAddRemove(t *testing.T, s Stores) {
	a, b, c := NewQueue(serverA, 1), NewQueue(serverB, 2), NewQueue(serverA, 3)
	sub := newSub(t, s, 1, a)
	for _, q := range []ntf.Queue{b, c} {
		if _, err := s.Subscriptions.AddQueue(t.Context(), sub.Token, sub.ID, q); err != nil {
			t.Fatalf("AddQueue = %v", err)
		}
	}
	removed, err := s.Subscriptions.RemoveQueue(t.Context(), sub.Token, sub.ID, 1)
	if err != nil || !bytes.Equal(removed.NotifierID, b.NotifierID) {
		t.Fatalf("RemoveQueue(1) = %v, %v; want queue b", removed.QueueRef, err)
	}
	if d := sameQueues([]ntf.Queue{a, c}, getSub(t, s, sub).Queues); d != "" {
		t.Errorf("after RemoveQueue(1): %s", d)
	}
	d := NewQueue(serverB, 4)
	got, err := s.Subscriptions.AddQueue(t.Context(), sub.Token, sub.ID, d)
	if err != nil || sameQueues([]ntf.Queue{a, c, d}, got.Queues) != "" {
		t.Errorf("AddQueue after a removal = %v, %v; want a, c, d", got.Queues, err)
	}
	for _, i := range []int{-1, 3} {
		if _, err := s.Subscriptions.RemoveQueue(t.Context(), sub.Token, sub.ID, i); !errors.Is(err, ntf.ErrQueueNotFound) {
			t.Errorf("RemoveQueue(%d) = %v, want ErrQueueNotFound", i, err)
		}
	}
	if _, err := s.Subscriptions.AddQueue(t.Context(), sub.Token, ntf.NewSubscriptionID(), NewQueue(serverA, 5)); !errors.Is(err, ntf.ErrSubscriptionNotFound) {
		t.Errorf("AddQueue(unknown subscription) = %v, want ErrSubscriptionNotFound", err)
	}
}

func testSubDelete(t *testing.T, s Stores) {
	qs := []ntf.Queue{NewQueue(serverA, 1), NewQueue(serverB, 2)}
	sub := newSub(t, s, 1, qs...)
	addNotification(t, s, qs[0].QueueRef, 1)
	got, err := s.Subscriptions.DeleteSubscription(t.Context(), sub.Token, sub.ID)
	if err != nil || sameQueues(qs, got) != "" {
		t.Fatalf("DeleteSubscription = %v, %v", got, err)
	}
	if _, err := s.Subscriptions.GetSubscription(t.Context(), sub.Token, sub.ID); !errors.Is(err, ntf.ErrSubscriptionNotFound) {
		t.Errorf("GetSubscription after delete = %v", err)
	}
	if ns, _ := s.Subscriptions.RecentNotifications(t.Context(), sub.Token); len(ns) != 0 {
		t.Errorf("notifications after delete: %d", len(ns))
	}
	if _, err := s.Subscriptions.DeleteSubscription(t.Context(), sub.Token, sub.ID); !errors.Is(err, ntf.ErrSubscriptionNotFound) {
		t.Errorf("second DeleteSubscription = %v, want ErrSubscriptionNotFound", err)
	}
}

func testSubTokenDelete(t *testing.T, s Stores) {
	q := NewQueue(serverA, 1)
	sub := newSub(t, s, 1, q, NewQueue(serverB, 2))
	addNotification(t, s, q.QueueRef, 1)
	if refs, err := s.Subscriptions.TokenQueues(t.Context(), sub.Token); err != nil || len(refs) != 2 {
		t.Fatalf("TokenQueues = %v, %v; want 2", refs, err)
	}
	if err := s.Tokens.Delete(t.Context(), sub.Token); err != nil {
		t.Fatal(err)
	}
	if refs, _ := s.Subscriptions.TokenQueues(t.Context(), sub.Token); len(refs) != 0 {
		t.Errorf("queues left after the token was deleted: %v", refs)
	}
	if _, _, _, err := s.Subscriptions.FindQueue(t.Context(), q.QueueRef); !errors.Is(err, ntf.ErrQueueNotFound) {
		t.Errorf("FindQueue after token delete = %v", err)
	}
	if depth, _, _ := s.Subscriptions.OutboxStats(t.Context()); depth != 0 {
		t.Errorf("outbox depth after token delete = %d", depth)
	}
}

func testSubLoadStatus(t *testing.T, s Stores) {
	var qs []ntf.Queue
	for i := range 7 {
		qs = append(qs, NewQueue([]string{serverA, serverB}[i%2], i))
	}
	newSub(t, s, 1, qs[:4]...)
	newSub(t, s, 2, qs[4:]...)
	ctx := t.Context()
	must(t, s.Subscriptions.SetQueueStatus(ctx, serverA, [][]byte{qs[0].NotifierID, qs[2].NotifierID}, ntf.QueueActive, ""))
	must(t, s.Subscriptions.SetQueueStatus(ctx, serverA, [][]byte{qs[4].NotifierID}, ntf.QueueEnded, ""))
	must(t, s.Subscriptions.SetQueueStatus(ctx, serverB, [][]byte{qs[1].NotifierID}, ntf.QueueError, "CMD SYNTAX"))
	must(t, s.Subscriptions.SetQueueStatus(ctx, serverA, [][]byte{qs[4].NotifierID}, ntf.QueueActive, "")) // final stays
	must(t, s.Subscriptions.DeactivateServer(ctx, serverA))
	want := map[string]ntf.QueueStatus{"0": ntf.QueueInactive, "1": ntf.QueueError, "2": ntf.QueueInactive, "4": ntf.QueueEnded, "3": ntf.QueuePending}
	for k, st := range want {
		i := int(k[0] - '0')
		_, _, q, err := s.Subscriptions.FindQueue(ctx, qs[i].QueueRef)
		if err != nil || q.Status != st || (st == ntf.QueueError) != (q.Error == "CMD SYNTAX") {
			t.Errorf("queue %d: %s %q, %v; want %s", i, q.Status, q.Error, err, st)
		}
	}
	var loaded []ntf.Queue
	var after ntf.QueueRef
	for {
		page, err := s.Subscriptions.LoadQueues(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		loaded = append(loaded, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].QueueRef
	}
	counts, err := s.Subscriptions.CountQueues(ctx)
	want7 := map[ntf.QueueStatus]int{ntf.QueueInactive: 2, ntf.QueueError: 1, ntf.QueueEnded: 1, ntf.QueuePending: 3}
	if err != nil || len(counts) != len(want7) {
		t.Errorf("CountQueues = %v, %v; want %v", counts, err, want7)
	}
	for st, n := range want7 {
		if counts[st] != n {
			t.Errorf("CountQueues[%s] = %d, want %d", st, counts[st], n)
		}
	}
	if len(loaded) != 5 { // 7 less one ended and one error
		t.Errorf("LoadQueues loaded %d queues, want 5", len(loaded))
	}
	for i := 1; i < len(loaded); i++ {
		p, q := loaded[i-1], loaded[i]
		if p.Server > q.Server || p.Server == q.Server && bytes.Compare(p.NotifierID, q.NotifierID) >= 0 {
			t.Errorf("LoadQueues out of order at %d", i)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// addNotification stores a notification of ref with sequence seq.
func addNotification(t *testing.T, s Stores, ref ntf.QueueRef, seq int64) ntf.Accepted {
	t.Helper()
	n := ntf.Notification{Server: ref.Server, NotifierID: ref.NotifierID, ReceivedAt: epoch.Add(time.Duration(seq) * time.Second),
		Nonce: [24]byte{byte(seq)}, EncMeta: []byte{1, 2, byte(seq)}, Seq: seq}
	as, err := s.Subscriptions.AddNotifications(t.Context(), []ntf.Notification{n}, n.ReceivedAt)
	if err != nil || len(as) != 1 {
		t.Fatalf("AddNotifications = %v, %v", as, err)
	}
	return as[0]
}

func testOutbox(t *testing.T, s Stores) {
	ctx := t.Context()
	a, b := NewQueue(serverA, 1), NewQueue(serverB, 2)
	sub := newSub(t, s, 1, a, b)
	if acc := addNotification(t, s, a.QueueRef, 1); !acc.Found || acc.Token != sub.Token {
		t.Fatalf("Accepted = %+v, want found for the token", acc)
	}
	if acc := addNotification(t, s, NewQueue(serverA, 9).QueueRef, 2); acc.Found {
		t.Errorf("notification of an unknown queue accepted")
	}
	addNotification(t, s, b.QueueRef, 3)
	addNotification(t, s, a.QueueRef, 4) // replaces 1
	ns, err := s.Subscriptions.RecentNotifications(ctx, sub.Token)
	if err != nil || len(ns) != 2 {
		t.Fatalf("RecentNotifications = %v, %v; want 2", ns, err)
	}
	for _, n := range ns {
		if !n.Pending || (n.Server == serverA) != (n.Seq == 4) || n.Nonce[0] != byte(n.Seq) || n.EncMeta[2] != byte(n.Seq) ||
			!n.ReceivedAt.Equal(epoch.Add(time.Duration(n.Seq)*time.Second)) {
			t.Errorf("notification %+v, want pending, the newest of its queue", n)
		}
	}
	if depth, oldest, _ := s.Subscriptions.OutboxStats(ctx); depth != 2 || !oldest.Equal(epoch.Add(3*time.Second)) {
		t.Errorf("OutboxStats = %d, %v; want 2, the time of seq 3", depth, oldest)
	}
	stale := ns[0]
	stale.Seq = 1
	must(t, s.Subscriptions.ClearNotifications(ctx, sub.Token, append([]ntf.Notification{stale}, notificationOf(ns, serverB))))
	ns, _ = s.Subscriptions.RecentNotifications(ctx, sub.Token)
	if !notificationOf(ns, serverA).Pending || notificationOf(ns, serverB).Pending {
		t.Errorf("after clearing a stale seq of a and b: %+v; want a pending, b delivered", ns)
	}
	must(t, s.Subscriptions.DropNotifications(ctx, sub.Token))
	if depth, _, _ := s.Subscriptions.OutboxStats(ctx); depth != 0 {
		t.Errorf("outbox depth after DropNotifications = %d", depth)
	}
	if ns, _ = s.Subscriptions.RecentNotifications(ctx, sub.Token); len(ns) != 2 {
		t.Errorf("delivered notifications are kept as recent ones: got %d, want 2", len(ns))
	}
}

func notificationOf(ns []ntf.Notification, server string) ntf.Notification {
	for _, n := range ns {
		if n.Server == server {
			return n
		}
	}
	return ntf.Notification{}
}

func testOutboxClaim(t *testing.T, s Stores) {
	ctx := t.Context()
	q1, q2 := NewQueue(serverA, 1), NewQueue(serverA, 2)
	sub1 := newSub(t, s, 1, q1)
	sub2 := newSub(t, s, 2, q2)
	addNotification(t, s, q1.QueueRef, 1)
	addNotification(t, s, q2.QueueRef, 2)
	now := epoch.Add(time.Minute)
	got, err := s.Subscriptions.ClaimOutbox(ctx, now, now.Add(time.Minute), 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("ClaimOutbox = %v, %v; want both tokens", got, err)
	}
	if got, _ := s.Subscriptions.ClaimOutbox(ctx, now, now.Add(time.Minute), 10); len(got) != 0 {
		t.Errorf("second ClaimOutbox within the lease = %v, want none", got)
	}
	must(t, s.Subscriptions.DeferNotifications(ctx, sub1.Token, now.Add(10*time.Minute)))
	got, _ = s.Subscriptions.ClaimOutbox(ctx, now.Add(2*time.Minute), now.Add(2*time.Minute).Add(time.Minute), 10)
	if len(got) != 1 || got[0] != sub2.Token {
		t.Errorf("ClaimOutbox after the lease = %v, want only the undeferred token", got)
	}
	if got, _ := s.Subscriptions.ClaimOutbox(ctx, now.Add(11*time.Minute), now.Add(11*time.Minute).Add(time.Minute), 10); len(got) != 2 {
		t.Errorf("ClaimOutbox after the deferral = %v, want both", got)
	}
}

func testOutboxRotation(t *testing.T, s Stores) {
	ctx := t.Context()
	old, other, next := NewQueue(serverA, 1), NewQueue(serverB, 2), NewQueue(serverB, 3)
	next.Rotate = true
	sub := newSub(t, s, 1, old, other)
	if _, err := s.Subscriptions.AddQueue(ctx, sub.Token, sub.ID, next); err != nil {
		t.Fatal(err)
	}
	addNotification(t, s, old.QueueRef, 1)
	if got := getSub(t, s, sub); len(got.Queues) != 3 {
		t.Fatalf("old queue's notification retired queues: %d left", len(got.Queues))
	}
	acc := addNotification(t, s, next.QueueRef, 2)
	if len(acc.Retired) != 2 {
		t.Errorf("Retired = %v, want the two older queues", acc.Retired)
	}
	got := getSub(t, s, sub)
	if len(got.Queues) != 1 || !bytes.Equal(got.Queues[0].NotifierID, next.NotifierID) || got.Queues[0].Rotate {
		t.Errorf("after rotation: %+v, want only the new queue, no longer rotating", got.Queues)
	}
	ns, _ := s.Subscriptions.RecentNotifications(ctx, sub.Token)
	if len(ns) != 2 || !notificationOf(ns, serverA).Pending || !notificationOf(ns, serverB).Pending {
		t.Fatalf("recent after rotation = %+v, want the retired queue's pending one kept beside the new one", ns)
	}
	must(t, s.Subscriptions.ClearNotifications(ctx, sub.Token, ns))
	if ns, _ := s.Subscriptions.RecentNotifications(ctx, sub.Token); len(ns) != 1 || ns[0].Seq != 2 {
		t.Errorf("recent after delivery = %+v, want only the new queue's", ns)
	}
	if acc := addNotification(t, s, next.QueueRef, 3); len(acc.Retired) != 0 {
		t.Errorf("second notification retired %v", acc.Retired)
	}
}
