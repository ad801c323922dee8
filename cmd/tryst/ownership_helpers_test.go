package main

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push/pushtest"
	"github.com/trystgw/tryst/smpclient/smptest"
	"github.com/trystgw/tryst/store/proxytest"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// Test leases: short, so takeovers happen within a test's patience, and
// six heartbeats long, so a slow tick on a busy machine does not make an
// instance let go.
const (
	testLease     = 3 * time.Second
	testHeartbeat = 500 * time.Millisecond
)

// cluster is several gateways on one PostgreSQL database, each through
// a proxy of its own that a test can cut, with fake SMP servers and push
// providers.
type cluster struct {
	t     *testing.T
	pgURL string
	db    *sql.DB // the test's own connection, for reading leases
	args  []string
	fakes *pushFakes
	smp   []*smptest.Server
	nodes []*node
	seq   int
}

// node is one gateway instance of a cluster.
type node struct {
	id    string
	s     *testServer
	proxy *proxytest.Proxy
	down  bool
}

func newCluster(t *testing.T, servers int) *cluster {
	t.Helper()
	c := &cluster{t: t, pgURL: sqlstoretest.PostgresURL(t), fakes: newPushFakes(t)}
	db, err := sql.Open("pgx", c.pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c.db = db
	c.args = append(append([]string{"--push-config", c.fakes.config, "--master-key-file", writeMasterKey(t),
		"--lease-duration", testLease.String(), "--heartbeat", testHeartbeat.String()}, noTokenLimits...), fastSMP...)
	for range servers {
		c.smp = append(c.smp, newSMPServer(t, smptest.Config{}))
	}
	return c
}

// start starts a new instance.
func (c *cluster) start() *node {
	c.t.Helper()
	c.seq++
	n := &node{id: fmt.Sprintf("node-%02d", c.seq)}
	n.proxy = proxytest.NewProxy(c.t, proxytest.Target(c.t, c.pgURL, "5432"))
	n.s = startServer(c.t, append(slices.Clone(c.args), "--database-url", n.proxy.HostURL(c.t, c.pgURL), "--instance-id", n.id)...)
	c.nodes = append(c.nodes, n)
	return n
}

// live returns the instances not stopped or crashed.
func (c *cluster) live() []*node {
	var out []*node
	for _, n := range c.nodes {
		if !n.down {
			out = append(out, n)
		}
	}
	return out
}

// stop stops n cleanly.
func (c *cluster) stop(n *node) {
	c.t.Helper()
	n.down = true
	if err := n.s.stop(); err != nil {
		c.t.Errorf("%s stopped with %v", n.id, err)
	}
}

// crash ends n as a kill would: its database connections go first, so
// it writes nothing more and releases no lease, then its SMP connections
// close (as the kernel closes a killed process's sockets).
func (c *cluster) crash(n *node) {
	n.down = true
	n.proxy.Cut()
	n.s.stop()
}

// owners reads the leases: server -> owner and the lease's end.
func (c *cluster) owners() map[string]struct {
	owner   string
	expires time.Time
} {
	c.t.Helper()
	rows, err := c.db.Query(`SELECT server, owner, expires_at FROM server_leases`)
	if err != nil {
		c.t.Fatalf("reading leases: %v", err)
	}
	defer rows.Close()
	out := map[string]struct {
		owner   string
		expires time.Time
	}{}
	for rows.Next() {
		var server, owner string
		var exp int64
		if err := rows.Scan(&server, &owner, &exp); err != nil {
			c.t.Fatal(err)
		}
		out[server] = struct {
			owner   string
			expires time.Time
		}{owner, time.UnixMilli(exp)}
	}
	return out
}

// serversOf returns the fake servers whose lease n holds.
func (c *cluster) serversOf(n *node) []*smptest.Server {
	owners := c.owners()
	var out []*smptest.Server
	for _, srv := range c.smp {
		if owners[ntf.ServerText(srv.Address())].owner == n.id {
			out = append(out, srv)
		}
	}
	return out
}

// settled reports whether every server is held by a live instance, the
// servers are spread evenly (counts differ by at most one), and each
// fake has one connection holding want[srv] queues.
func (c *cluster) settled(want map[*smptest.Server]int) bool {
	owners := c.owners()
	count := map[string]int{}
	for _, n := range c.live() {
		count[n.id] = 0
	}
	for _, srv := range c.smp {
		o := owners[ntf.ServerText(srv.Address())].owner
		if _, live := count[o]; !live {
			return false
		}
		count[o]++
		if srv.ConnCount() != 1 || srv.SubscribedQueues() != want[srv] {
			return false
		}
	}
	lo, hi := len(c.smp), 0
	for _, k := range count {
		lo, hi = min(lo, k), max(hi, k)
	}
	return hi-lo <= 1
}

// waitSettled waits until settled, failing after d.
func (c *cluster) waitSettled(want map[*smptest.Server]int, d time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	if !waitCond(d, func() bool { return c.settled(want) }) {
		var state []string
		for _, srv := range c.smp {
			state = append(state, fmt.Sprintf("%s conns=%d subscribed=%d/%d", srv.Addr(), srv.ConnCount(), srv.SubscribedQueues(), want[srv]))
		}
		c.t.Fatalf("not settled after %v: leases %v; %s", d, c.owners(), strings.Join(state, "; "))
	}
	return time.Since(start)
}

// overlaps fails the test if some queue was ever subscribed by one
// connection while another held it.
func (c *cluster) checkNoOverlap() {
	c.t.Helper()
	for _, srv := range c.smp {
		if n := srv.Overlaps(); n != 0 {
			c.t.Errorf("%s: %d NSUBs took a queue from another live connection", srv.Addr(), n)
		}
	}
}

// subscribeAll creates one subscription per queue, queue i for device
// i%len(devices) on live instance i%len(live), with a few requests at
// once.
func (c *cluster) subscribeAll(devices []*device, qs []smpQueue, owner []int) {
	c.t.Helper()
	live := c.live()
	errs := make(chan error, len(qs))
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range work {
				errs <- createSubscription(live[i%len(live)].s, devices[owner[i]], qs[i])
			}
		})
	}
	for i := range qs {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
}

// createSubscription is device.subscribe for one queue, safe to call
// off the test's goroutine.
func createSubscription(s *testServer, d *device, q smpQueue) error {
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/tokens/"+d.id+"/subscriptions", strings.NewReader(`{"queues":[`+q.json("")+`]}`))
	req.Header.Set("Authorization", "Bearer "+d.secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create subscription on %s = %d %s", s.URL, resp.StatusCode, body)
	}
	return nil
}

// devices registers and verifies n APNs devices on the live instances.
func (c *cluster) devices(n int) []*device {
	c.t.Helper()
	live := c.live()
	var ds []*device
	for i := range n {
		ds = append(ds, activeDevice(c.t, live[i%len(live)].s, c.fakes, "apns", pushtest.APNsToken(fmt.Sprintf("multi-%d", i))))
	}
	return ds
}

// waitPushed waits until, for every queue i in idx, an accepted push to
// its device carries its NMSG with tag.
func (c *cluster) waitPushed(devices []*device, qs []smpQueue, owner []int, idx []int, tag byte, d time.Duration) {
	c.t.Helper()
	missing := idx
	ok := waitCond(d, func() bool {
		texts := map[*device][]string{}
		var still []int
		for _, i := range missing {
			dev := devices[owner[i]]
			if texts[dev] == nil {
				texts[dev] = append(c.fakes.messagePushes(c.t, dev, false), "")
			}
			if !slices.ContainsFunc(texts[dev], func(s string) bool { return qs[i].hasNMSG(s, tag) }) {
				still = append(still, i)
			}
		}
		missing = still
		return len(missing) == 0
	})
	if !ok {
		c.t.Fatalf("%d of %d NMSGs with tag %d not pushed within %v", len(missing), len(idx), tag, d)
	}
}
