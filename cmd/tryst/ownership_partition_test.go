package main

import (
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/smpclient/smptest"
)

// TestOwnershipPartition cuts one of three instances off PostgreSQL
// (through its proxy) while it keeps its SMP connections: it must close
// them before its leases can end, so the instances taking the servers
// over never subscribe a queue it still holds; once the database is back
// it takes a share again.
func TestOwnershipPartition(t *testing.T) {
	c := newCluster(t, 4)
	for range 3 {
		c.start()
	}
	devices := c.devices(2)
	qs := make([]smpQueue, 40)
	owner := make([]int, len(qs))
	want := map[*smptest.Server]int{}
	for i := range qs {
		qs[i], owner[i] = newSMPQueue(t, c.smp[i%len(c.smp)]), i%len(devices)
		want[qs[i].srv]++
	}
	c.subscribeAll(devices, qs, owner)
	c.waitSettled(want, 10*time.Second)

	var cut *node
	for _, n := range c.live() {
		if len(c.serversOf(n)) > 0 {
			cut = n
		}
	}
	held := c.serversOf(cut)
	cut.proxy.Cut()
	// Read after the cut: no renewal can land later, so this is the
	// end of its leases as the other instances see it.
	ends := c.owners()
	for _, srv := range held {
		end := ends[ntf.ServerText(srv.Address())].expires
		if !waitCond(time.Until(end)+time.Second, func() bool { return srv.ConnCount() == 0 }) {
			t.Fatalf("%s still connected to %s a second after its lease ended", cut.id, srv.Addr())
		}
		if gone := time.Now(); !gone.Before(end) {
			t.Errorf("%s left %s at %v, %v after its lease ended", cut.id, srv.Addr(), gone, gone.Sub(end))
		} else {
			t.Logf("%s left %s %v before its lease ended", cut.id, srv.Addr(), end.Sub(gone))
		}
	}
	cut.down = true // for settled: the others hold everything now
	c.waitSettled(want, testLease+10*time.Second)
	c.checkNoOverlap()

	cut.proxy.Restore()
	cut.down = false
	c.waitSettled(want, 10*time.Second)
	if len(c.serversOf(cut)) == 0 {
		t.Errorf("%s holds no server after the database came back", cut.id)
	}
	var probe []int
	for i := range qs {
		qs[i].nmsg(t, 40)
		probe = append(probe, i)
	}
	c.waitPushed(devices, qs, owner, probe, 40, 10*time.Second)
	c.checkNoOverlap()
}
