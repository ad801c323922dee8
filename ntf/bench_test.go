package ntf_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/trystgw/tryst/masterkey"
	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/ntf/ntftest"
	"github.com/trystgw/tryst/smpclient"
	"github.com/trystgw/tryst/smpclient/smptest"
	"github.com/trystgw/tryst/store/sqlstore"
	"github.com/trystgw/tryst/store/sqlstore/sqlstoretest"
)

// resubscribeCount is the number of stored subscriptions the start-up
// benchmark resubscribes.
const resubscribeCount = 100_000

// BenchmarkResubscribe measures a start-up: the supervisor loads 100,000
// stored queues from SQLite, opens their sealed keys, sends NSUB to
// smptest (signature verification on) and records the confirmations.
// In the same run it measures the bare smpclient Subscribe of the same
// queues on one connection, and reports:
//
//	s/resubscribe   wall time of the start-up (target under 10 s)
//	subs/s          its rate
//	bare-subs/s     the bare Subscribe rate
//	ratio           subs/s over bare-subs/s (target >= 0.7)
//	B/sub           heap held per watched subscription once all are
//	                confirmed (target <= 1024)
func BenchmarkResubscribe(b *testing.B) {
	srv, err := smptest.NewServer(smptest.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	key, _ := masterkey.New(bytes.Repeat([]byte{9}, masterkey.Size))
	db, err := sqlstore.Open(b.Context(), sqlstoretest.SQLiteURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	queues := storeQueues(b, db, key, srv, resubscribeCount)
	bare := bareSubscribeRate(b, srv, queues)
	queues = nil // only the store's copy counts from here
	for b.Loop() {
		took, perSub := timeResubscribe(b, db, key)
		b.ReportMetric(took.Seconds(), "s/resubscribe")
		b.ReportMetric(resubscribeCount/took.Seconds(), "subs/s")
		b.ReportMetric(bare, "bare-subs/s")
		b.ReportMetric(resubscribeCount/took.Seconds()/bare, "ratio")
		b.ReportMetric(perSub, "B/sub")
	}
}

// storeQueues registers n queues on srv and stores them, one
// subscription each, for one token, in a single transaction.
func storeQueues(b *testing.B, db *sqlstore.DB, key ntf.Sealer, srv *smptest.Server, n int) []smpclient.Queue {
	b.Helper()
	tk := ntftest.NewToken(1)
	tk.Status = ntf.StatusActive
	if err := db.Tokens().Create(b.Context(), tk); err != nil {
		b.Fatal(err)
	}
	server := ntf.ServerText(srv.Address())
	qs := make([]smpclient.Queue, n)
	tx, err := db.SQL().BeginTx(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for i := range qs {
		qs[i] = newBenchQueue(b, srv)
		ref := ntf.QueueRef{Server: server, NotifierID: qs[i].NotifierID}
		insertBenchQueue(b, tx, tk.ID, ref, ntf.SealNotifierKey(key, ref, qs[i].Key))
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return qs
}

func newBenchQueue(b *testing.B, srv *smptest.Server) smpclient.Queue {
	seed, id := make([]byte, 32), make([]byte, 24)
	rand.Read(seed)
	rand.Read(id)
	k := smpclient.NewEd25519Key(seed)
	srv.AddQueue(id, k.Public())
	return smpclient.Queue{NotifierID: id, Key: k}
}

func insertBenchQueue(b *testing.B, tx *sql.Tx, token ntf.TokenID, ref ntf.QueueRef, sealed []byte) {
	sid := string(ntf.NewSubscriptionID())
	if _, err := tx.Exec(`INSERT INTO subscriptions (id, token_id, created_at) VALUES ($1, $2, 0)`, sid, string(token)); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO subscription_queues (server, notifier_id, subscription_id, token_id, position, key_sealed, status, added_at)
		VALUES ($1, $2, $3, $4, 0, $5, 'active', 0)`, ref.Server, ref.NotifierID, sid, string(token), sealed); err != nil {
		b.Fatal(err)
	}
}

// bareSubscribeRate subscribes qs with smpclient alone, on one
// connection, and returns NSUBs confirmed per second.
func bareSubscribeRate(b *testing.B, srv *smptest.Server, qs []smpclient.Queue) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	c, err := smpclient.Dial(ctx, srv.Address(), smpclient.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	for _, r := range c.Subscribe(ctx, qs) {
		if r.Err != nil {
			b.Fatalf("bare Subscribe: %v", r.Err)
		}
	}
	return float64(len(qs)) / time.Since(start).Seconds()
}

// timeResubscribe starts a supervisor over db and returns how long it
// took to hold every stored queue, and the heap it holds per queue.
func timeResubscribe(b *testing.B, db *sqlstore.DB, key ntf.Sealer) (time.Duration, float64) {
	b.Helper()
	before := heapInUse()
	sup := ntf.NewSupervisor(db.Subscriptions(), key, nopSink{}, slog.New(slog.DiscardHandler), ntf.SupervisorConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- sup.Run(ctx) }()
	deadline := time.Now().Add(2 * time.Minute)
	for sup.Stats().Subscribed < resubscribeCount {
		if time.Now().After(deadline) {
			b.Fatalf("resubscribed %d of %d within 2 minutes", sup.Stats().Subscribed, resubscribeCount)
		}
		time.Sleep(time.Millisecond)
	}
	took := time.Since(start)
	perSub := float64(heapInUse()-before) / resubscribeCount
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return took, perSub
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

type nopSink struct{}

func (nopSink) Kick(ntf.TokenID) {}
