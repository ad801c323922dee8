package ntf_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/ntf/ntftest"
	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
	"github.com/trystgw/tryst/store/proxytest"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// takeoverCount is how many subscriptions the killed instance held.
const takeoverCount = 100_000

// BenchmarkTakeover runs two instances on PostgreSQL with the default
// lease and heartbeat, sharing two fake SMP servers (signature
// verification on): one with 100,000 stored queues, one with 100. The
// instance holding the large one is killed (its database connections
// cut, then its SMP connections closed, no lease released), and the
// other takes the server over. It reports:
//
//	s/takeover      from the kill to the lease's acquisition by the
//	                survivor (target <= 15 s with the defaults)
//	s/resubscribe   from the acquisition to all 100,000 queues confirmed
//	                on the survivor (target <= 10 s)
//	subs/s          the resubscription's rate
//	bare-subs/s     the bare smpclient Subscribe rate of the same queues
//	                on one connection, measured in the same run
//	ratio           subs/s over bare-subs/s: the takeover's cost beyond
//	                the protocol's, whatever else loads the machine
func BenchmarkTakeover(b *testing.B) {
	for b.Loop() {
		takeover, resubscribe, bare := runTakeover(b)
		b.ReportMetric(takeover.Seconds(), "s/takeover")
		b.ReportMetric(resubscribe.Seconds(), "s/resubscribe")
		b.ReportMetric(takeoverCount/resubscribe.Seconds(), "subs/s")
		b.ReportMetric(bare, "bare-subs/s")
		b.ReportMetric(takeoverCount/resubscribe.Seconds()/bare, "ratio")
	}
}

func runTakeover(b *testing.B) (takeover, resubscribe time.Duration, bare float64) {
	url := sqlstoretest.PostgresURL(b)
	big, small := newFakeServer(b), newFakeServer(b)
	key, _ := masterkey.New(bytes.Repeat([]byte{9}, masterkey.Size))
	db, err := sqlstore.Open(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bare = bareSubscribeRate(b, big, storeQueuesBulk(b, db, key, big, takeoverCount))
	storeQueuesBulk(b, db, key, small, 100)
	if !pollUntil(10*time.Second, func() bool { return big.ConnCount() == 0 }) {
		b.Fatal("the bare connection still open")
	}
	x, y := startInstance(b, url, key, "x"), startInstance(b, url, key, "y")
	defer x.stop()
	defer y.stop()
	if !pollUntil(2*time.Minute, func() bool {
		return big.SubscribedQueues() == takeoverCount && small.SubscribedQueues() == 100 &&
			x.own.Stats().ServersOwned == 1 && y.own.Stats().ServersOwned == 1
	}) {
		b.Fatal("the two instances did not settle on one server each within 2 minutes")
	}
	victim, survivor := x, y
	if !x.own.Owns(ntf.ServerText(big.Address())) {
		victim, survivor = y, x
	}
	killed := time.Now()
	victim.crash()
	if !pollUntil(time.Minute, func() bool { return survivor.own.Stats().Takeovers > 0 }) {
		b.Fatal("no takeover within a minute")
	}
	taken := time.Now()
	if !pollUntil(time.Minute, func() bool { return survivor.sup.Stats().Subscribed == takeoverCount+100 }) {
		b.Fatalf("survivor holds %d of %d queues a minute after the takeover: %+v", survivor.sup.Stats().Subscribed, takeoverCount+100, survivor.sup.Stats())
	}
	if n := big.Overlaps() + small.Overlaps(); n != 0 {
		b.Fatalf("%d queues subscribed while another connection held them", n)
	}
	return taken.Sub(killed), time.Since(taken), bare
}

func newFakeServer(b *testing.B) *smptest.Server {
	srv, err := smptest.NewServer(smptest.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv
}

// storeQueuesBulk registers n queues on srv and stores them for one
// token, in a few statements.
func storeQueuesBulk(b *testing.B, db *sqlstore.DB, key ntf.Sealer, srv *smptest.Server, n int) []smpclient.Queue {
	b.Helper()
	tk := ntftest.NewToken(1)
	tk.ID = ntf.TokenID(string(tk.ID) + srv.Addr())
	tk.Status = ntf.StatusActive
	if err := db.Tokens().Create(b.Context(), tk); err != nil {
		b.Fatal(err)
	}
	server := ntf.ServerText(srv.Address())
	sids, ids, sealed := make([]string, n), make([][]byte, n), make([][]byte, n)
	qs := make([]smpclient.Queue, n)
	for i := range n {
		q := newBenchQueue(b, srv)
		qs[i] = q
		ref := ntf.QueueRef{Server: server, NotifierID: q.NotifierID}
		sids[i], ids[i], sealed[i] = string(ntf.NewSubscriptionID()), q.NotifierID, ntf.SealNotifierKey(key, ref, q.Key)
	}
	if _, err := db.SQL().Exec(`INSERT INTO subscriptions (id, token_id, created_at) SELECT unnest($1::TEXT[]), $2, 0`,
		sids, string(tk.ID)); err != nil {
		b.Fatal(err)
	}
	if _, err := db.SQL().Exec(`INSERT INTO subscription_queues (server, notifier_id, subscription_id, token_id, position, key_sealed, status, added_at)
		SELECT $1, unnest($2::BYTEA[]), unnest($3::TEXT[]), $4, 0, unnest($5::BYTEA[]), 'active', 0`,
		server, ids, sids, string(tk.ID), sealed); err != nil {
		b.Fatal(err)
	}
	leases, err := db.Leases(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := leases.EnsureServers(b.Context(), []string{server}); err != nil {
		b.Fatal(err)
	}
	return qs
}

// instance is one gateway's ownership and supervisor, on a database
// connection through a proxy that crash cuts.
type instance struct {
	own   *ntf.Ownership
	sup   *ntf.Supervisor
	proxy *proxytest.Proxy
	db    *sqlstore.DB
	stop  func()
}

func startInstance(b *testing.B, url string, key ntf.Sealer, id string) *instance {
	b.Helper()
	in := &instance{proxy: proxytest.NewProxy(b, proxytest.Target(b, url, "5432"))}
	var err error
	if in.db, err = sqlstore.Open(b.Context(), in.proxy.HostURL(b, url)); err != nil {
		b.Fatal(err)
	}
	leases, err := in.db.Leases(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	in.sup = ntf.NewSupervisor(in.db.Subscriptions(), key, nopSink{}, log, ntf.SupervisorConfig{
		Owns: func(s string) bool { return in.own.Owns(s) }, LoadOnAcquire: true})
	if in.own, err = ntf.NewOwnership(leases, in.sup, key, log, ntf.OwnershipConfig{Instance: id}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.own.Run(ctx) }()
	stopped := false
	in.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			in.db.Close()
		}
	}
	return in
}

// crash ends the instance as a kill would: nothing more reaches the
// database, then its SMP connections close.
func (in *instance) crash() {
	in.proxy.Cut()
	in.stop()
}

// pollUntil polls cond every 50 ms until it holds or d passes. The
// conditions count 100,000 subscriptions under the locks the
// subscriptions need, so polling faster would slow what it measures.
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
