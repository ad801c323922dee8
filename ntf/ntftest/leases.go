package ntftest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
)

// LeaseStores are a lease store with the subscription store of the same
// database (whose queues ServerQueues reads).
type LeaseStores struct {
	Stores
	Leases ntf.LeaseStore
}

// TestLeaseStore is the conformance suite of ntf.LeaseStore.
func TestLeaseStore(t *testing.T, newStores func(t *testing.T) LeaseStores) {
	t.Run("Membership", func(t *testing.T) { testMembership(t, newStores(t).Leases) })
	t.Run("AcquireRenewRelease", func(t *testing.T) { testAcquireRenewRelease(t, newStores(t).Leases) })
	t.Run("Expiry", func(t *testing.T) { testLeaseExpiry(t, newStores(t).Leases) })
	t.Run("ConcurrentAcquire", func(t *testing.T) { testConcurrentAcquire(t, newStores(t).Leases) })
	t.Run("ServerQueues", func(t *testing.T) { testServerQueues(t, newStores(t)) })
	t.Run("Notices", func(t *testing.T) { testNotices(t, newStores(t).Leases) })
}

func ensure(t *testing.T, l ntf.LeaseStore, servers ...string) {
	t.Helper()
	if _, err := l.EnsureServers(t.Context(), servers); err != nil {
		t.Fatal(err)
	}
}

func testMembership(t *testing.T, l ntf.LeaseStore) {
	ensure(t, l, "smp://a", "smp://b", "smp://c")
	if n, err := l.EnsureServers(t.Context(), []string{"smp://a", "smp://d"}); err != nil || n != 1 {
		t.Fatalf("EnsureServers of one known and one new server = %d, %v; want 1 created", n, err)
	}
	if _, err := l.Heartbeat(t.Context(), "i2", time.Minute); err != nil {
		t.Fatal(err)
	}
	m, err := l.Heartbeat(t.Context(), "i1", time.Minute)
	if err != nil || !slices.Equal(m.Live, []string{"i1", "i2"}) || m.Servers != 4 {
		t.Fatalf("Heartbeat = %+v, %v; want live [i1 i2], 4 servers", m, err)
	}
	if err := l.Leave(t.Context(), "i2"); err != nil {
		t.Fatal(err)
	}
	if m, _ := l.Heartbeat(t.Context(), "i1", time.Minute); !slices.Equal(m.Live, []string{"i1"}) {
		t.Errorf("after i2 left, live = %v", m.Live)
	}
	if _, err := l.Heartbeat(t.Context(), "short", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if m, _ := l.Heartbeat(t.Context(), "i1", time.Minute); slices.Contains(m.Live, "short") {
		t.Errorf("an instance past its heartbeat's expiry is still live: %v", m.Live)
	}
}

func testAcquireRenewRelease(t *testing.T, l ntf.LeaseStore) {
	ensure(t, l, "smp://a", "smp://b", "smp://c")
	got, err := l.Acquire(t.Context(), "i1", 2, time.Minute)
	if err != nil || len(got) != 2 {
		t.Fatalf("Acquire 2 of 3 free = %v, %v", got, err)
	}
	for _, g := range got {
		if g.Previous != "" || g.Generation != 1 {
			t.Errorf("first acquisition = %+v, want generation 1, no previous holder", g)
		}
	}
	other, err := l.Acquire(t.Context(), "i2", 5, time.Minute)
	if err != nil || len(other) != 1 || slices.ContainsFunc(got, func(g ntf.Lease) bool { return g.Server == other[0].Server }) {
		t.Fatalf("second instance acquired %v, %v; want the one free server", other, err)
	}
	stale := ntf.Lease{Server: got[0].Server, Generation: got[0].Generation + 1}
	renewed, err := l.Renew(t.Context(), "i1", []ntf.Lease{got[1], stale, other[0]}, time.Minute)
	if err != nil || len(renewed) != 1 || renewed[0] != got[1] {
		t.Fatalf("Renew of one held, one with a wrong generation, one of another instance = %v, %v; want only the held one", renewed, err)
	}
	if err := l.Release(t.Context(), "i2", got); err != nil {
		t.Fatal(err)
	}
	if again, _ := l.Acquire(t.Context(), "i3", 5, time.Minute); len(again) != 0 {
		t.Errorf("another instance's release freed %v", again)
	}
	if err := l.Release(t.Context(), "i1", got[:1]); err != nil {
		t.Fatal(err)
	}
	again, err := l.Acquire(t.Context(), "i3", 5, time.Minute)
	if err != nil || len(again) != 1 || again[0].Server != got[0].Server || again[0].Generation != 2 || again[0].Previous != "" {
		t.Fatalf("Acquire after a release = %v, %v; want %s at generation 2, released (no previous holder)", again, err, got[0].Server)
	}
}

func testLeaseExpiry(t *testing.T, l ntf.LeaseStore) {
	ensure(t, l, "smp://a")
	got, err := l.Acquire(t.Context(), "dead", 1, 50*time.Millisecond)
	if err != nil || len(got) != 1 {
		t.Fatalf("Acquire = %v, %v", got, err)
	}
	if early, _ := l.Acquire(t.Context(), "i1", 1, time.Minute); len(early) != 0 {
		t.Fatalf("a live lease was taken: %v", early)
	}
	time.Sleep(100 * time.Millisecond)
	if renewed, _ := l.Renew(t.Context(), "dead", got, time.Minute); len(renewed) != 1 {
		t.Fatalf("an expired lease not yet taken is renewable by its holder; got %v", renewed)
	}
	if _, err := l.Renew(t.Context(), "dead", got, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	taken, err := l.Acquire(t.Context(), "i1", 1, time.Minute)
	if err != nil || len(taken) != 1 || taken[0].Previous != "dead" || taken[0].Generation != got[0].Generation+1 {
		t.Fatalf("takeover = %v, %v; want previous holder dead and the next generation", taken, err)
	}
	if renewed, _ := l.Renew(t.Context(), "dead", got, time.Minute); len(renewed) != 0 {
		t.Errorf("the old holder renewed a lease taken over: %v", renewed)
	}
}

func testConcurrentAcquire(t *testing.T, l ntf.LeaseStore) {
	var servers []string
	for i := range 20 {
		servers = append(servers, "smp://s"+string(rune('a'+i)))
	}
	ensure(t, l, servers...)
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			got, err := l.Acquire(context.Background(), "i"+string(rune('0'+i)), 6, time.Minute)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				count[g.Server]++
			}
		})
	}
	wg.Wait()
	for server, n := range count {
		if n != 1 {
			t.Errorf("%s acquired by %d instances at once", server, n)
		}
	}
	if len(count) != 20 {
		t.Errorf("%d of 20 servers acquired by 5 instances asking for 6 each", len(count))
	}
}

func testServerQueues(t *testing.T, s LeaseStores) {
	tk := NewToken(1)
	if err := s.Tokens.Create(t.Context(), tk); err != nil {
		t.Fatal(err)
	}
	sub := ntf.Subscription{ID: ntf.NewSubscriptionID(), Token: tk.ID, CreatedAt: epoch}
	for i := range 5 {
		sub.Queues = append(sub.Queues, NewQueue(serverA, i))
	}
	sub.Queues = append(sub.Queues, NewQueue(serverB, 9))
	if err := s.Subscriptions.CreateSubscription(t.Context(), sub); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscriptions.SetQueueStatus(t.Context(), serverA, [][]byte{sub.Queues[2].NotifierID}, ntf.QueueEnded, ""); err != nil {
		t.Fatal(err)
	}
	first, err := s.Leases.ServerQueues(t.Context(), serverA, nil, 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("first page = %d queues, %v", len(first), err)
	}
	rest, err := s.Leases.ServerQueues(t.Context(), serverA, first[1].NotifierID, 10)
	if err != nil || len(rest) != 2 {
		t.Fatalf("second page = %d queues, %v; want the 2 left that are not final", len(rest), err)
	}
	byID, err := s.Leases.QueuesByID(t.Context(), serverA, [][]byte{sub.Queues[0].NotifierID, sub.Queues[2].NotifierID, sub.Queues[5].NotifierID})
	if err != nil || len(byID) != 1 || string(byID[0].NotifierID) != string(sub.Queues[0].NotifierID) || string(byID[0].KeySealed) != string(sub.Queues[0].KeySealed) {
		t.Fatalf("QueuesByID = %v, %v; want only queue 0 (2 is ended, 5 is on another server)", byID, err)
	}
}

func testNotices(t *testing.T, l ntf.LeaseStore) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan struct{})
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() { done <- l.Listen(ctx, func() { close(ready) }, func(p string) { got <- p }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Listen = %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	for _, p := range []string{"one", "two"} {
		if err := l.Publish(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"one", "two"} {
		select {
		case p := <-got:
			if p != want {
				t.Errorf("notice %q, want %q", p, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("notice %q not received within 5s", want)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not return after its context ended")
	}
}
