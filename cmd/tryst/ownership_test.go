package main

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/smpclient/smptest"
)

// TestOwnershipThreeInstances runs three gateways on one PostgreSQL with
// four fake SMP servers and 1,000 subscriptions created across all three:
// each server is held by one instance, every queue subscribed once, and
// NMSGs on every server pushed. Then one instance is killed: its servers
// are taken over within the lease, the notifications it left in the
// outbox are pushed by the others, and so is every NMSG after the
// takeover. Last, all three are restarted one by one, cleanly: no
// server goes unsubscribed for as long as a lease.
func TestOwnershipThreeInstances(t *testing.T) {
	c := newCluster(t, 4)
	for range 3 {
		c.start()
	}
	devices := c.devices(10)
	const total = 1000
	qs := make([]smpQueue, total)
	owner := make([]int, total)
	want := map[*smptest.Server]int{}
	for i := range qs {
		qs[i], owner[i] = newSMPQueue(t, c.smp[i%len(c.smp)]), i%len(devices)
	}
	// One queue per server first: the servers' leases are shared out
	// while they appear; once that settles, nothing moves and every
	// later queue must be subscribed exactly once.
	seeds := len(c.smp)
	c.subscribeAll(devices, qs[:seeds], owner)
	for _, srv := range c.smp {
		want[srv] = 1
	}
	c.waitSettled(want, 10*time.Second)
	c.subscribeAll(devices, qs[seeds:], owner[seeds:])
	for _, srv := range c.smp {
		want[srv] = total / len(c.smp)
	}
	c.waitSettled(want, 20*time.Second)
	for i := seeds; i < total; i++ {
		if n := qs[i].srv.NSUBCount(qs[i].q.NotifierID); n != 1 {
			t.Fatalf("queue %d subscribed %d times, want once", i, n)
		}
	}
	everyServer := []int{}
	for i := range 2 * len(c.smp) {
		qs[i].nmsg(t, 10)
		everyServer = append(everyServer, i)
	}
	c.waitPushed(devices, qs, owner, everyServer, 10, 10*time.Second)
	c.checkNoOverlap()

	victim := c.live()[0]
	for _, n := range c.live() {
		if len(c.serversOf(n)) > len(c.serversOf(victim)) {
			victim = n
		}
	}
	killAndTakeOver(t, c, victim, devices, qs, owner, want)
	c.start() // three again
	c.waitSettled(want, 10*time.Second)
	rollingRestart(t, c, want)
	c.checkNoOverlap()
}

// killAndTakeOver leaves NMSGs of the victim's servers in the outbox
// (APNs refusing), kills it, and checks the takeover.
func killAndTakeOver(t *testing.T, c *cluster, victim *node, devices []*device, qs []smpQueue, owner []int, want map[*smptest.Server]int) {
	lost := c.serversOf(victim)
	if len(lost) == 0 {
		t.Fatalf("%s holds no server", victim.id)
	}
	onLost := func(i int) bool {
		for _, srv := range lost {
			if qs[i].srv == srv {
				return true
			}
		}
		return false
	}
	c.fakes.apns.SetTopicAnswer(apnsApp, pushtest.APNsFail(503, "ServiceUnavailable"))
	var left []int
	for i := range qs {
		if onLost(i) && len(left) < 20 {
			qs[i].nmsg(t, 20)
			left = append(left, i)
		}
	}
	waitOutbox(t, c, len(left))
	killed := time.Now()
	c.crash(victim)
	c.fakes.apns.ClearTopicAnswer(apnsApp)
	c.waitSettled(want, testLease+10*time.Second)
	took := time.Since(killed)
	t.Logf("servers of the killed instance held and every queue subscribed again %v after the kill (lease %v)", took, testLease)
	if took > testLease+2*testHeartbeat+2*time.Second {
		t.Errorf("takeover took %v, want within the lease %v plus two heartbeats and 2s to resubscribe", took, testLease)
	}
	// The victim's notifications: pushed by the others once their
	// sweeps may take them (after the outbox's grace or retry delay).
	c.waitPushed(devices, qs, owner, left, 20, 15*time.Second)
	var after []int
	for i := range qs {
		if onLost(i) {
			qs[i].nmsg(t, 30)
			after = append(after, i)
		}
	}
	c.waitPushed(devices, qs, owner, after, 30, 20*time.Second)
	c.checkNoOverlap()
}

// waitOutbox waits until n notifications are pending in the outbox.
func waitOutbox(t *testing.T, c *cluster, n int) {
	t.Helper()
	ok := waitCond(10*time.Second, func() bool {
		var k int
		err := c.db.QueryRow(`SELECT COUNT(*) FROM notifications WHERE pending = 1`).Scan(&k)
		return err == nil && k >= n
	})
	if !ok {
		t.Fatalf("fewer than %d notifications pending in the outbox", n)
	}
}

// rollingRestart stops each live instance cleanly and starts a new one
// in its place, while a watcher measures, per server, the longest time
// not all of its queues were subscribed.
func rollingRestart(t *testing.T, c *cluster, want map[*smptest.Server]int) {
	var longest atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		since := map[*smptest.Server]time.Time{}
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			now := time.Now()
			for _, srv := range c.smp {
				full := srv.SubscribedQueues() == want[srv]
				switch {
				case full && !since[srv].IsZero():
					if gap := now.Sub(since[srv]); int64(gap) > longest.Load() {
						longest.Store(int64(gap))
					}
					since[srv] = time.Time{}
				case !full && since[srv].IsZero():
					since[srv] = now
				}
			}
		}
	})
	for _, n := range c.live() {
		c.stop(n)
		c.start()
		c.waitSettled(want, 10*time.Second)
	}
	close(stop)
	wg.Wait()
	gap := time.Duration(longest.Load())
	t.Logf("rolling restart: longest time a server was not fully subscribed %v (lease %v)", gap, testLease)
	if gap == 0 || gap >= testLease {
		t.Errorf("rolling restart gap %v, want above 0 (servers moved) and under the lease %v", gap, testLease)
	}
}
